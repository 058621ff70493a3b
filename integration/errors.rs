//! Failures: one precise message, a non-zero exit, nothing left behind.

use crate::harness::*;
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// `create` of a bundle whose config `edit` spoils fails with one error
/// line containing every needle, and leaves nothing behind.
fn create_fails(edit: impl FnOnce(&mut Value), needles: &[&str]) {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]).config(edit);
    let out = t.create(&b, "bad");
    for n in needles {
        out.fails_with(n);
    }
    t.assert_nothing_left("bad");
}

#[test]
fn unreadable_config() {
    let t = Test::new();
    let b = t.bundle();
    fs::remove_file(b.dir.join("config.json")).unwrap();
    t.create(&b, "bad")
        .fails_with("config.json")
        .fails_with("no such file or directory");
    t.assert_nothing_left("bad");
}

#[test]
fn config_of_wrong_type_names_the_field() {
    create_fails(
        |c| c["process"]["args"] = json!("sh -c true"),
        &["process.args"],
    );
}

#[test]
fn missing_process() {
    create_fails(
        |c| drop(c.as_object_mut().unwrap().remove("process")),
        &["process"],
    );
}

#[test]
fn empty_args() {
    create_fails(|c| c["process"]["args"] = json!([]), &["process.args"]);
}

#[test]
fn missing_rootfs() {
    create_fails(
        |c| c["root"]["path"] = json!("/nonexistent/rootfs"),
        &["root.path", "/nonexistent/rootfs"],
    );
}

#[test]
fn unknown_namespace_type() {
    create_fails(
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "bogus"}))
        },
        &["linux.namespaces", "bogus"],
    );
}

#[test]
fn namespace_path_of_another_type() {
    create_fails(
        |c| {
            let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
            nss.retain(|n| n["type"] != "network");
            nss.push(json!({"type": "network", "path": "/proc/self/ns/uts"}));
        },
        &["linux.namespaces", "/proc/self/ns/uts", "is not a net"],
    );
}

#[test]
fn namespace_path_that_is_no_namespace_is_never_opened() {
    // Found by fuzz/ (config): a FIFO there blocked create in its open
    // for as long as no one wrote to it.
    let t = Test::new();
    let b = t.bundle();
    let fifo = t.dir.join("ns-fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let file = t.dir.join("ns-file");
    fs::write(&file, "").unwrap();
    for path in [&fifo, &file] {
        b.args(&["true"]).config(|c| {
            let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
            nss.retain(|n| n["type"] != "ipc");
            nss.push(json!({"type": "ipc", "path": path}));
        });
        let mut create = t.command(&["create", "--bundle", b.path(), "bad"]);
        let mut child = create.stderr(std::process::Stdio::piped()).spawn().unwrap();
        assert_ne!(wait_exit(&mut child, Duration::from_secs(20)), 0);
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        let want = format!("{} is not a namespace", path.display());
        assert!(
            err.contains("linux.namespaces") && err.contains(&want),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        t.assert_nothing_left("bad");
    }
}

#[test]
fn relative_mount_destination() {
    create_fails(
        |c| {
            let m = json!({"destination": "relative/dir", "type": "tmpfs", "source": "tmpfs"});
            c["mounts"].as_array_mut().unwrap().push(m);
        },
        &["mounts[7].destination", "relative/dir"],
    );
}

#[test]
fn unknown_bind_mount_option() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"])
        .bind(&t.host_dir("src"), "/mnt", &["bogusopt"]);
    t.create(&b, "bad")
        .fails_with("mounts[7]")
        .fails_with("bogusopt");
    t.assert_nothing_left("bad");
}

#[test]
fn duplicate_id() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "100"]);
    t.create(&b, "dup").ok();
    let pid = t.state("dup")["pid"].clone();
    t.create(&b, "dup")
        .fails_with(r#"container "dup" already exists"#);
    let st = t.state("dup");
    assert_eq!(
        (st["status"].as_str(), &st["pid"]),
        (Some("created"), &pid),
        "the first container was harmed: {st}"
    );
    t.start("dup").ok();
    assert_eq!(t.status("dup"), "running");
}

#[test]
fn invalid_id() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]);
    t.create(&b, "a/b")
        .fails_with("invalid container id")
        .fails_with("a/b");
    assert!(
        t.state_entries().is_empty(),
        "left: {:?}",
        t.state_entries()
    );
    t.assert_nothing_left("a");
}

#[test]
fn unknown_id() {
    let t = Test::new();
    for args in [
        &["state", "nosuch"][..],
        &["start", "nosuch"],
        &["kill", "nosuch", "KILL"],
        &["delete", "nosuch"],
    ] {
        t.hull(args)
            .fails_with(r#"container "nosuch" does not exist"#);
    }
    t.assert_nothing_left("nosuch");
}

#[test]
fn force_delete_of_unknown_id_succeeds() {
    let t = Test::new();
    t.hull(&["delete", "--force", "nosuch"]).ok();
    t.assert_nothing_left("nosuch");
}

#[test]
fn start_twice() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "100"]);
    t.create(&b, "s").ok();
    t.start("s").ok();
    t.start("s").fails_with("cannot start");
    assert_eq!(t.status("s"), "running");
    t.kill("s", "KILL").ok();
    t.wait_status("s", "stopped");
    t.start("s").fails_with("cannot start");
    assert_eq!(t.status("s"), "stopped");
}

#[test]
fn delete_of_running_container_needs_force() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "100"]);
    t.run_detached(&b, "r");
    let pid = t.state("r")["pid"].as_i64().unwrap();
    t.delete("r").fails_with("running");
    assert_eq!(t.status("r"), "running");
    t.hull(&["delete", "--force", "r"]).ok();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/exe")).exists(),
        "init {pid} survived delete --force"
    );
    t.assert_nothing_left("r");
}

#[test]
fn program_not_in_path() {
    create_fails(
        |c| c["process"]["args"] = json!(["nosuchprog"]),
        &["nosuchprog", "executable file not found in $PATH"],
    );
}

#[test]
fn absolute_program_missing() {
    create_fails(
        |c| c["process"]["args"] = json!(["/bin/nosuchprog"]),
        &["/bin/nosuchprog", "no such file or directory"],
    );
}

#[test]
fn program_not_executable() {
    let t = Test::new();
    let b = t.bundle_own_rootfs();
    let prog = b.rootfs.join("bin/notexec");
    fs::write(&prog, "#!/bin/sh\necho should not run\n").unwrap();
    fs::set_permissions(&prog, fs::Permissions::from_mode(0o644)).unwrap();
    b.args(&["/bin/notexec"]);
    t.create(&b, "bad")
        .fails_with("/bin/notexec")
        .fails_with("permission denied");
    t.assert_nothing_left("bad");
}

#[test]
fn exec_failure_is_reported_once() {
    let t = Test::new();
    let b = t.bundle_own_rootfs();
    let prog = b.rootfs.join("bin/badinterp");
    fs::write(&prog, "#!/nonexistent/interpreter\n").unwrap();
    fs::set_permissions(&prog, fs::Permissions::from_mode(0o755)).unwrap();
    b.args(&["/bin/badinterp"]);
    t.run(&b, "bad")
        .fails_with("/bin/badinterp")
        .fails_with("no such file or directory");
    t.assert_nothing_left("bad");
}

/// A failing create with the log options `log_args(path)` writes exactly
/// one JSON error line to `path`.
fn check_json_log(log_args: impl Fn(&str) -> Vec<String>) {
    let t = Test::new();
    let log = t.dir.join("hull.log");
    let b = t.bundle();
    b.args(&["nosuchprog"]);
    let mut args = log_args(log.to_str().unwrap());
    args.extend(["create", "--bundle", b.path(), "bad"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    t.hull(&args).fails_with("executable file not found");
    let text = fs::read_to_string(&log).unwrap_or_else(|e| panic!("log {}: {e}", log.display()));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected in the log:\n{text}");
    let entry: Value =
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_eq!(entry["level"], "error", "{entry}");
    assert!(
        entry["msg"]
            .as_str()
            .is_some_and(|m| m.contains("executable file not found")),
        "{entry}"
    );
    assert!(
        entry["time"].as_str().is_some_and(|t| !t.is_empty()),
        "{entry}"
    );
    t.assert_nothing_left("bad");
}

#[test]
fn json_log_separate_args() {
    check_json_log(|log| {
        ["--log", log, "--log-format", "json"]
            .map(String::from)
            .to_vec()
    });
}

#[test]
fn json_log_equals_form() {
    check_json_log(|log| vec![format!("--log={log}"), "--log-format=json".to_string()]);
}

/// Fields hull does not implement are refused by name, never ignored.
#[test]
fn unsupported_fields_are_refused() {
    create_fails(
        |c| c["linux"]["intelRdt"] = json!({"closID": "guaranteed_group"}),
        &["linux.intelRdt", "not supported"],
    );
    create_fails(
        |c| c["linux"]["netDevices"] = json!({"eth1": {"name": "eth1"}}),
        &["linux.netDevices", "not supported"],
    );
    // An idmapped mount with one map of two: which ids to use for the
    // other is not for hull to guess.
    create_fails(
        |c| {
            let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
            let m = json!({"destination": "/mnt", "type": "bind", "source": "/tmp",
                "options": ["rbind"], "uidMappings": map});
            c["mounts"].as_array_mut().unwrap().push(m);
        },
        &["mounts[7]: an idmapped mount needs both uidMappings and gidMappings"],
    );
}

// ---------------------------------------------------------------------------
// What runc refuses and hull accepted (issue 10, item 18)
// ---------------------------------------------------------------------------

#[test]
fn json_nested_without_bound_is_refused_before_parsing() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let t = Test::new();
    let b = t.bundle();
    let text = fs::read_to_string(b.dir.join("config.json")).unwrap();
    let text = text.replacen('{', &format!("{{\"x\": {deep},"), 1);
    fs::write(b.dir.join("config.json"), text).unwrap();
    t.create(&b, "deep")
        .fails_with("config.json: nested deeper than 64 levels");
    t.assert_nothing_left("deep");
    let doc = t.dir.join("resources.json");
    fs::write(&doc, format!("{{\"memory\": {deep}}}")).unwrap();
    t.hull(&["update", "--resources", doc.to_str().unwrap(), "none"])
        .fails_with("nested deeper than 64 levels");
}

#[test]
fn seccomp_notify_on_write_is_refused() {
    create_fails(
        |c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": "/run/agent.sock",
                "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]
            })
        },
        &["linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall"],
    );
}

#[test]
fn preserve_fds_beyond_the_callers_and_a_needless_console_socket_are_refused() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]);
    t.hull(&[
        "create",
        "--preserve-fds",
        "100000",
        "--bundle",
        b.path(),
        "fds",
    ])
    .fails_with("--preserve-fds 100000: fd ");
    t.assert_nothing_left("fds");
    let sock = t.dir.join("console.sock");
    t.hull(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "--bundle",
        b.path(),
        "cons",
    ])
    .fails_with("--console-socket: given, but config.json: process.terminal is not set");
    t.assert_nothing_left("cons");
}

#[test]
fn exec_refuses_a_relative_cwd_and_replaces_an_env_variable() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]).env(&["K=from_spec"]);
    t.run_detached(&b, "ex");
    t.hull(&["exec", "--cwd", "tmp", "ex", "true"])
        .fails_with(r#"exec: --cwd "tmp": must be an absolute path"#);
    let out = t
        .hull(&[
            "exec",
            "--env",
            "K=from_cli",
            "ex",
            "sh",
            "-c",
            "env | grep ^K=",
        ])
        .ok();
    assert_eq!(out.lines(), ["K=from_cli"], "{out}");
    // A process.json without a user runs as the container's (runc).
    let file = t.dir.join("process.json");
    fs::write(
        &file,
        json!({"args": ["id", "-u"], "cwd": "/", "env": [PATH_ENV]}).to_string(),
    )
    .unwrap();
    let out = t
        .hull(&["exec", "--process", file.to_str().unwrap(), "ex"])
        .ok();
    assert_eq!(out.lines(), ["0"], "{out}");
    let sock = t.dir.join("console.sock");
    t.hull(&[
        "exec",
        "--console-socket",
        sock.to_str().unwrap(),
        "ex",
        "true",
    ])
    .fails_with("exec: --console-socket given without a terminal (--tty)");
    // As runc: exec's own failures exit 255, the process's statuses are its own.
    for args in [
        &["exec", "nope", "true"][..],
        &["exec", "ex", "no-such-binary"],
    ] {
        let out = t.hull(args);
        assert_eq!(out.code, 255, "{out}");
    }
}
