//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup
//! is a transient scope, checked from both sides: what systemd says of the
//! unit (`systemctl show`) and what the kernel's cgroup files and the
//! processes' /proc/PID/cgroup say. Where systemd or pure cgroup v2 is
//! missing, hull's refusal is what is tested (the VM test bed has both).

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::*;

/// Whether this host can have the driver: systemd as init, pure v2.
fn systemd_v2() -> bool {
    Path::new("/run/systemd/system").is_dir()
        && Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

#[track_caller]
fn skip_without_systemd() -> bool {
    if !systemd_v2() {
        eprintln!("note: needs systemd and pure cgroup v2 (the VM test bed): skipped");
        return true;
    }
    false
}

/// `systemctl show -p NAME --value UNIT`.
fn show(unit: &str, property: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", "-p", property, "--value", unit])
        .output()
        .expect("run systemctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The first line of a file of the container's scope.
fn scope_file(cgroup: &str, file: &str) -> String {
    let path = Path::new("/sys/fs/cgroup").join(cgroup.trim_start_matches('/'));
    let text = fs::read_to_string(path.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    text.lines().next().unwrap_or("").to_string()
}

fn proc_cgroup(pid: i64) -> String {
    fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

/// Stops the slices a test made (systemd keeps a slice active once a unit
/// ran in it), even when the test fails.
struct Slices(&'static [&'static str]);

impl Drop for Slices {
    fn drop(&mut self) {
        for s in self.0 {
            let _ = Command::new("systemctl").args(["stop", s]).status();
        }
    }
}

#[test]
fn systemd_driver_is_refused_where_the_host_cannot_have_it() {
    let want = if !Path::new("/run/systemd/system").is_dir() {
        "--systemd-cgroup: systemd is not running on this host"
    } else if !systemd_v2() {
        "--systemd-cgroup: hull drives systemd only on pure cgroup v2 hosts"
    } else {
        eprintln!("note: this host has systemd and pure cgroup v2: nothing to refuse");
        return;
    };
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]);
    b.config(|c| c["linux"]["cgroupsPath"] = json!("system.slice:hull:sdno"));
    let out = t.hull(&["--systemd-cgroup", "create", "--bundle", b.path(), "sdno"]);
    out.fails_with(want);
    let out = t.hull(&["--systemd-cgroup", "run", "--bundle", b.path(), "sdno"]);
    out.fails_with(want);
    t.assert_nothing_left("sdno");
}

/// The whole lifecycle in a scope: its properties and files, exec, update,
/// pause, stats, ps, and a delete that leaves no unit behind.
#[test]
fn systemd_scope_holds_the_container_and_its_limits() {
    if skip_without_systemd() {
        return;
    }
    let t = Test::new();
    let (id, unit, cgroup) = (
        "sdlife",
        "hull-sdlife.scope",
        "/system.slice/hull-sdlife.scope",
    );
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    b.config(|c| {
        c["linux"]["cgroupsPath"] = json!("system.slice:hull:sdlife");
        c["linux"]["resources"] = json!({
            "memory": {"limit": 67108864},
            "pids": {"limit": 50},
            "cpu": {"shares": 512, "quota": 25000, "period": 100000}
        });
    });
    t.hull(&["--systemd-cgroup", "create", "--bundle", b.path(), id])
        .ok();
    // What systemd holds: the limits survive a daemon-reload.
    assert_eq!(show(unit, "ActiveState"), "active");
    assert_eq!(show(unit, "ControlGroup"), cgroup);
    assert_eq!(show(unit, "Delegate"), "yes");
    assert_eq!(show(unit, "MemoryMax"), "67108864");
    assert_eq!(show(unit, "TasksMax"), "50");
    assert_eq!(show(unit, "CPUWeight"), "20");
    assert_eq!(show(unit, "CPUQuotaPerSecUSec"), "250ms");
    assert_eq!(show(unit, "DevicePolicy"), "strict");
    // What the kernel holds, and where the init is.
    let pid = t.state(id)["pid"].as_i64().unwrap();
    assert_eq!(proc_cgroup(pid), format!("0::{cgroup}\n"));
    assert_eq!(scope_file(cgroup, "memory.max"), "67108864");
    assert_eq!(scope_file(cgroup, "pids.max"), "50");
    assert_eq!(scope_file(cgroup, "cpu.max"), "25000 100000");
    t.start(id).ok();

    let out = t.hull(&["exec", id, "cat", "/proc/self/cgroup"]).ok();
    assert_eq!(out.stdout, format!("0::{cgroup}\n"), "exec joins the scope");
    let ps = t.hull(&["ps", "--format", "json", id]).ok();
    assert_eq!(ps.stdout.trim(), format!("[{pid}]"));

    t.hull(&["update", "--memory", "134217728", "--pids-limit", "60", id])
        .ok();
    assert_eq!(show(unit, "MemoryMax"), "134217728");
    assert_eq!(show(unit, "TasksMax"), "60");
    assert_eq!(scope_file(cgroup, "memory.max"), "134217728");
    assert_eq!(scope_file(cgroup, "pids.max"), "60");

    t.hull(&["pause", id]).ok();
    assert_eq!(t.status(id), "paused");
    assert_eq!(scope_file(cgroup, "cgroup.freeze"), "1");
    t.hull(&["resume", id]).ok();
    assert_eq!(t.status(id), "running");

    let events = t.hull(&["events", "--stats", id]).ok();
    let stats: serde_json::Value = serde_json::from_str(&events.stdout).unwrap();
    assert_eq!(stats["data"]["pids"]["current"], json!(1), "{stats}");
    assert_eq!(stats["data"]["pids"]["limit"], json!(60), "{stats}");

    t.kill(id, "KILL").ok();
    t.wait_status(id, "stopped");
    t.delete(id).ok();
    assert_eq!(show(unit, "LoadState"), "not-found", "the unit is gone");
    assert!(!Path::new("/sys/fs/cgroup").join(&cgroup[1..]).exists());
}

/// runc's cgroupsPath forms: empty is `system.slice:hull:<id>`; a slice
/// name nests at its dashes; the prefix may be empty.
#[test]
fn systemd_slices_nest_and_an_empty_path_is_system_slice_hull_id() {
    if skip_without_systemd() {
        return;
    }
    let _slices = Slices(&["hullitest.slice"]);
    let t = Test::new();
    let cases = [
        (json!(null), "sddef", "/system.slice/hull-sddef.scope"),
        (
            json!("hullitest-sub.slice:pfx:sdnest"),
            "sdnest",
            "/hullitest.slice/hullitest-sub.slice/pfx-sdnest.scope",
        ),
        (
            json!("hullitest.slice::sdbare"),
            "sdbare",
            "/hullitest.slice/sdbare.scope",
        ),
    ];
    for (path, id, cgroup) in cases {
        let b = t.bundle();
        b.args(&["sleep", "1000"]);
        b.config(|c| c["linux"]["cgroupsPath"] = path.clone());
        t.hull(&[
            "--systemd-cgroup",
            "run",
            "--detach",
            "--bundle",
            b.path(),
            id,
        ])
        .ok();
        let pid = t.state(id)["pid"].as_i64().unwrap();
        assert_eq!(proc_cgroup(pid), format!("0::{cgroup}\n"), "{path}");
        t.hull(&["delete", "--force", id]).ok();
        let unit = cgroup.rsplit('/').next().unwrap();
        assert_eq!(show(unit, "LoadState"), "not-found", "{unit} is gone");
    }
}

/// Bad paths name the field; a create that fails after systemd made the
/// scope stops it; a scope in use is refused without touching it.
#[test]
fn systemd_failures_name_the_field_and_leave_no_unit() {
    if skip_without_systemd() {
        return;
    }
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]);
    for (path, want) in [
        (
            "/hull/abs",
            "linux.cgroupsPath: \"/hull/abs\": the systemd cgroup driver wants \"slice:prefix:name\"",
        ),
        (
            "bad--name.slice:hull:sdbad",
            "linux.cgroupsPath: \"bad--name.slice\" is not a valid slice name",
        ),
        (
            "system.slice:hull:x.slice",
            "linux.cgroupsPath: \"system.slice:hull:x.slice\": a container needs a scope",
        ),
    ] {
        b.config(|c| c["linux"]["cgroupsPath"] = json!(path));
        let out = t.hull(&["--systemd-cgroup", "create", "--bundle", b.path(), "sdbad"]);
        out.fails_with(want);
        t.assert_nothing_left("sdbad");
    }

    // Fails in the init, after the scope was started with it.
    b.config(|c| c["linux"]["cgroupsPath"] = json!("system.slice:hull:sdfail"));
    b.args(&["/no/such/program"]);
    let out = t.hull(&["--systemd-cgroup", "run", "--bundle", b.path(), "sdfail"]);
    out.fails_with("/no/such/program");
    t.assert_nothing_left("sdfail");
    assert_eq!(show("hull-sdfail.scope", "LoadState"), "not-found");

    // Another container's scope, in use.
    let owner = t.bundle();
    owner.args(&["sleep", "1000"]);
    owner.config(|c| c["linux"]["cgroupsPath"] = json!("system.slice:hull:sdowner"));
    t.hull(&[
        "--systemd-cgroup",
        "run",
        "--detach",
        "--bundle",
        owner.path(),
        "sdowner",
    ])
    .ok();
    b.args(&["true"]);
    b.config(|c| c["linux"]["cgroupsPath"] = json!("system.slice:hull:sdowner"));
    let out = t.hull(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        b.path(),
        "sdthief",
    ]);
    out.fails_with(
        "linux.cgroupsPath: the scope hull-sdowner.scope already exists, with 1 process(es) in it",
    );
    t.assert_nothing_left("sdthief");
    assert_eq!(t.status("sdowner"), "running");
    assert_eq!(show("hull-sdowner.scope", "ActiveState"), "active");
    t.hull(&["delete", "--force", "sdowner"]).ok();
    assert_eq!(show("hull-sdowner.scope", "LoadState"), "not-found");
}
