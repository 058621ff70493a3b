//! create / start / state / kill / delete / list / run.

use crate::harness::*;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A container that touches /mnt/started, then runs until the host
/// creates /mnt/stop. Returns the bundle and the host dir behind /mnt.
fn waiting_container(t: &Test) -> (Bundle, PathBuf) {
    let shared = t.host_dir("shared");
    let b = t.bundle();
    b.bind(&shared, "/mnt", &["rw"])
        .sh("touch /mnt/started; while [ ! -e /mnt/stop ]; do sleep 0.05; done");
    (b, shared)
}

#[test]
fn create_blocks_until_start_then_runs_and_stops() {
    let t = Test::new();
    let (b, shared) = waiting_container(&t);
    let pid_file = t.dir.join("init.pid");
    t.hull(&[
        "create",
        "--bundle",
        b.path(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        "c1",
    ])
    .ok();

    let st = t.state("c1");
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().expect("pid");
    assert!(pid > 0, "{st}");
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string(),
        "pid file"
    );
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "init {pid} is not alive"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !shared.join("started").exists(),
        "the process ran before start"
    );

    t.start("c1").ok();
    wait_for("the process to run after start", || {
        shared.join("started").exists()
    });
    let st = t.state("c1");
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid), "{st}");

    fs::write(shared.join("stop"), "").unwrap();
    t.wait_status("c1", "stopped");
    t.delete("c1").ok();
    assert!(!t.root.join("c1").exists(), "delete left the state dir");
    t.hull(&["state", "c1"])
        .fails_with(r#"container "c1" does not exist"#);
}

#[test]
fn state_reports_oci_fields_and_annotations() {
    let t = Test::new();
    let b = t.bundle();
    let annotations = json!({"org.hull.test": "yes", "com.example/other": "a b c"});
    b.args(&["sleep", "100"])
        .config(|c| c["annotations"] = annotations.clone());
    t.create(&b, "st1").ok();
    let st = t.state("st1");
    assert!(
        st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "ociVersion: {st}"
    );
    assert_eq!(st["id"], "st1");
    assert_eq!(st["status"], "created");
    assert!(st["pid"].as_i64().is_some_and(|p| p > 0), "pid: {st}");
    assert_eq!(st["bundle"], b.path());
    assert_eq!(st["annotations"], annotations);
}

#[test]
fn list_shows_containers_in_every_format() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "100"]);
    t.create(&b, "la").ok();
    t.run_detached(&b, "lb");
    let pid_b = t.state("lb")["pid"].as_i64().unwrap();

    let table = t.hull(&["list"]).ok();
    let lines = table.lines();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS"),
        "header:\n{table}"
    );
    let row = |id: &str| -> Vec<String> {
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(id));
        line.unwrap_or_else(|| panic!("no row for {id}:\n{table}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(row("la")[2], "created", "{table}");
    assert_eq!(row("lb")[1], pid_b.to_string(), "{table}");
    assert_eq!(row("lb")[2], "running", "{table}");
    assert_eq!(row("lb")[3], b.path(), "{table}");

    let json = t.hull(&["list", "--format", "json"]).ok();
    let all: Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}:\n{json}"));
    let status = |id: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["status"].clone())
    };
    assert_eq!(status("la"), Some(json!("created")), "{json}");
    assert_eq!(status("lb"), Some(json!("running")), "{json}");

    let quiet = t.hull(&["list", "-q"]).ok();
    assert_eq!(quiet.lines(), ["la", "lb"], "{quiet}");
}

#[test]
fn run_returns_the_exit_code() {
    let t = Test::new();
    let b = t.bundle();
    b.sh("echo out; echo err >&2; exit 3");
    let out = t.run(&b, "exit3");
    assert_eq!(out.code, 3, "{out}");
    assert_eq!(out.stdout, "out\n", "{out}");
    assert_eq!(out.stderr, "err\n", "{out}");
    assert!(
        t.state_entries().is_empty(),
        "run did not delete the container"
    );
}

#[test]
fn run_returns_128_plus_the_killing_signal() {
    let t = Test::new();
    let b = t.bundle();
    // A pid namespace's init cannot SIGKILL itself: share the host's.
    b.without_namespace("pid").sh("kill -9 $$");
    let out = t.run(&b, "sig9");
    assert_eq!(out.code, 137, "{out}");
}

#[test]
fn run_detach_returns_at_once() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    let began = Instant::now();
    t.run_detached(&b, "det");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "run --detach waited for the container"
    );
    let st = t.state("det");
    assert_eq!(st["status"], "running", "{st}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(t.status("det"), "running");
}

#[test]
fn kill_accepts_name_sig_name_and_number() {
    let t = Test::new();
    let shared = t.host_dir("shared");
    let b = t.bundle();
    b.bind(&shared, "/mnt", &["rw"])
        .sh("trap 'echo term >> /mnt/log' TERM; touch /mnt/ready; while :; do sleep 0.05; done");
    t.run_detached(&b, "k");
    wait_for("the trap to be set", || shared.join("ready").exists());
    let terms = || {
        fs::read_to_string(shared.join("log"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    for (i, sig) in ["TERM", "SIGTERM", "15"].into_iter().enumerate() {
        t.kill("k", sig).ok();
        wait_for(&format!("SIGTERM sent as {sig:?}"), || terms() == i + 1);
    }
    t.kill("k", "KILL").ok();
    t.wait_status("k", "stopped");
    t.kill("k", "TERM").fails_with("container not running");
}
