//! `hull --version` and `hull spec`.

use crate::harness::*;
use serde_json::{Value, json};
use std::fs;

#[test]
fn version_prints_three_lines() {
    let t = Test::new();
    let out = t.hull(&["--version"]).ok();
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{out}");
    for (line, prefix) in lines.iter().zip(["hull version ", "commit: ", "spec: "]) {
        let value = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?} lacks {prefix:?}:\n{out}"));
        assert!(!value.trim().is_empty(), "empty value in {line:?}");
    }
    assert!(lines[0].ends_with(env!("CARGO_PKG_VERSION")), "{out}");
}

/// A reader that has gone (`hull list | head -1`) ends hull by SIGPIPE, as
/// it ends other tools (and runc): no error, no panic on stderr.
#[test]
fn a_closed_stdout_ends_hull_by_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let t = Test::new();
    for args in [&["--version"][..], &["features"], &["list"]] {
        let (reader, writer) = nix::unistd::pipe().unwrap();
        drop(reader);
        let err = t.dir.join("stderr");
        let out = t
            .command(args)
            .stdout(std::process::Stdio::from(writer))
            .stderr(fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        let stderr = fs::read_to_string(&err).unwrap();
        assert_eq!(
            out.signal(),
            Some(nix::libc::SIGPIPE),
            "{args:?}: {out:?}, {stderr}"
        );
        assert_eq!(stderr, "", "{args:?}");
    }
}

#[test]
fn spec_writes_a_runnable_config() {
    let t = Test::new();
    let dir = t.host_dir("spec");
    t.hull(&["spec", "--bundle", dir.to_str().unwrap()]).ok();
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    config["root"]["path"] = json!(shared_rootfs());
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["sh", "-c", "echo from-spec"]);
    config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!(format!("HULL_ITEST={}", t.marker())));
    fs::write(&path, config.to_string()).unwrap();
    let out = t
        .hull(&["run", "--bundle", dir.to_str().unwrap(), "spec"])
        .ok();
    assert_eq!(out.stdout, "from-spec\n", "{out}");
    t.hull(&["spec", "--bundle", dir.to_str().unwrap()])
        .fails_with("already exists");
}

// ---------------------------------------------------------------------------
// runc's CLI behaviour (issue 10, items 19-20)
// ---------------------------------------------------------------------------

/// runc's default spec, without inheritable or ambient capabilities
/// (CVE-2022-29162), with a terminal and a deny-all device rule.
#[test]
fn spec_is_runcs_default_without_inherited_capabilities() {
    let t = Test::new();
    let dir = t.host_dir("spec");
    t.hull(&["spec", "--bundle", dir.to_str().unwrap()]).ok();
    let config: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let caps = &config["process"]["capabilities"];
    assert!(
        caps.get("inheritable").is_none() && caps.get("ambient").is_none(),
        "{caps}"
    );
    let mut bounding: Vec<&str> = caps["bounding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    bounding.sort();
    assert_eq!(
        bounding,
        ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    );
    assert_eq!(config["process"]["terminal"], true);
    // runc's namespaces, which on a pure cgroup v2 host include cgroup.
    let runc_dir = t.host_dir("runc-spec");
    let runc = std::process::Command::new("runc")
        .args(["spec", "--bundle", runc_dir.to_str().unwrap()])
        .output()
        .expect("run runc spec");
    assert!(runc.status.success(), "{runc:?}");
    let theirs: Value =
        serde_json::from_str(&fs::read_to_string(runc_dir.join("config.json")).unwrap()).unwrap();
    let namespaces = |c: &Value| -> Vec<String> {
        let ns = c["linux"]["namespaces"].as_array().unwrap().iter();
        ns.map(|n| n["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(namespaces(&config), namespaces(&theirs));
    assert!(
        namespaces(&config)
            .starts_with(&["pid", "network", "ipc", "uts", "mount"].map(String::from))
    );
    assert_eq!(
        config["linux"]["resources"]["devices"],
        json!([{"allow": false, "access": "rwm"}])
    );
}

/// A usage error is one line naming the problem, exit 1 (runc); help is
/// help, exit 0.
#[test]
fn usage_errors_are_one_line_and_exit_1() {
    let t = Test::new();
    for args in [
        &["--bogus"][..],
        &["kill"],
        &["list", "--format", "xml"],
        &["nosuch"],
    ] {
        let out = t.hull(args);
        assert_eq!(out.code, 1, "{out}");
        out.fails_with("hull: error: ");
    }
    let out = t.hull(&["create", "--help"]).ok();
    assert!(out.stdout.contains("Usage: hull create"), "{out}");
}

#[test]
fn kill_with_signal_0_probes_liveness() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "probe");
    t.kill("probe", "0").ok();
    assert_eq!(t.status("probe"), "running", "signal 0 must not signal");
    t.kill("probe", "KILL").ok();
    t.wait_status("probe", "stopped");
    t.kill("probe", "0").fails_with("container not running");
    // With --all, nothing to signal is success (runc).
    t.hull(&["kill", "--all", "probe", "0"]).ok();
}

#[test]
fn list_json_keys_are_in_runcs_order() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.create(&b, "order").ok();
    let out = t.hull(&["list", "--format", "json"]).ok();
    let keys = [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ];
    let at: Vec<usize> = keys
        .iter()
        .map(|k| {
            out.stdout
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k}: {out}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{out}");
}

/// --debug: debug lines on stderr, or in the --log file when there is one.
#[test]
fn debug_lines_go_to_stderr_or_the_log() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]);
    let out = t
        .hull(&["--debug", "run", "--bundle", b.path(), "dbg"])
        .ok();
    assert!(
        out.stderr.contains("level=debug") && out.stderr.contains("create dbg"),
        "{out}"
    );
    let log = t.dir.join("debug.log");
    let out = t
        .hull(&[
            "--debug",
            "--log",
            log.to_str().unwrap(),
            "run",
            "--bundle",
            b.path(),
            "dbg2",
        ])
        .ok();
    assert!(!out.stderr.contains("level=debug"), "{out}");
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("level=debug") && text.contains("create dbg2"),
        "{text}"
    );
    // exec too, and nothing of the container's init reaches stderr.
    let bx = t.bundle();
    bx.args(&["sleep", "1000"]);
    t.hull(&["run", "--detach", "--bundle", bx.path(), "dbgx"])
        .ok();
    let out = t.hull(&[
        "--debug",
        "--log",
        log.to_str().unwrap(),
        "exec",
        "dbgx",
        "true",
    ]);
    assert!(out.stderr.is_empty(), "{out}");
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("exec dbgx"), "{text}");
    let json_log = t.dir.join("debug.json");
    let json_arg = format!("--log={}", json_log.display());
    t.hull(&[
        "--debug",
        &json_arg,
        "--log-format",
        "json",
        "run",
        "--bundle",
        b.path(),
        "dbg3",
    ])
    .ok();
    let first = fs::read_to_string(&json_log).unwrap();
    let line: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(line["level"], "debug", "{first}");
}

#[test]
fn ids_longer_than_a_file_name_are_refused_with_the_limit() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]);
    let long = "a".repeat(256);
    t.create(&b, &long).fails_with("(at most 255)");
    t.create(&b, &"a".repeat(255)).ok();
}

// ---------------------------------------------------------------------------
// Installed like a system tool: completions and manual pages (issue 15)
// ---------------------------------------------------------------------------

/// `hull completion SHELL` prints a script that offers every subcommand;
/// an unknown shell is a one-line usage error.
#[test]
fn completion_scripts_name_every_subcommand() {
    let t = Test::new();
    for (shell, marker) in [
        ("bash", "complete -F _hull"),
        ("zsh", "#compdef hull"),
        ("fish", "complete -c hull"),
    ] {
        let out = t.hull(&["completion", shell]).ok();
        assert!(out.stdout.contains(marker), "{shell}: {out}");
        for sub in [
            "create",
            "start",
            "delete",
            "exec",
            "features",
            "completion",
        ] {
            assert!(out.stdout.contains(sub), "{shell} lacks {sub}");
        }
    }
    t.hull(&["completion", "tcsh"]).fails_with("tcsh");
}

/// The release binary has no `man` (clap_mangen is the docs build's:
/// `make docs`; pkg/check.sh reads the pages it writes).
#[test]
fn man_is_not_in_the_runtime_binary() {
    let t = Test::new();
    t.hull(&["man", "/tmp"]).fails_with("man");
}
