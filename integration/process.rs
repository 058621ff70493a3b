//! The container's process: program lookup, env, cwd, user, umask, HOME,
//! stdio and inherited fds.

use crate::harness::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;

#[test]
fn program_is_looked_up_in_the_configs_path() {
    let t = Test::new();
    let b = t.bundle_own_rootfs();
    let tool = b.rootfs.join("opt/tools/mytool");
    fs::create_dir_all(tool.parent().unwrap()).unwrap();
    fs::write(&tool, "#!/bin/sh\necho mytool \"$@\"\n").unwrap();
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    b.args(&["mytool", "arg"])
        .config(|c| c["process"]["env"][0] = json!("PATH=/bin:/opt/tools"));
    assert_eq!(t.run(&b, "p").ok().stdout, "mytool arg\n");
}

#[test]
fn env_is_visible() {
    let t = Test::new();
    let b = t.bundle();
    b.env(&["FOO=bar baz", "EMPTY="]);
    let out = t.run_sh(&b, "e", "echo \"$FOO\"; env | sort");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "bar baz", "{out}");
    for var in ["FOO=bar baz", "EMPTY=", "TERM=xterm", PATH_ENV] {
        assert!(lines.contains(&var), "{var} missing:\n{out}");
    }
}

#[test]
fn missing_cwd_is_created() {
    let t = Test::new();
    let b = t.bundle_own_rootfs();
    b.config(|c| {
        c["root"]["readonly"] = json!(true);
        c["process"]["cwd"] = json!("/work/sub");
    });
    assert_eq!(t.run_sh(&b, "cwd", "pwd"), "/work/sub\n");
    assert!(b.rootfs.join("work/sub").is_dir());
}

#[test]
fn user_uid_gid_and_additional_gids() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]})
    });
    let out = t.run_sh(
        &b,
        "u",
        "grep -E '^(Uid|Gid|Groups):' /proc/self/status; id -un",
    );
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "Uid: 1000 1000 1000 1000",
            "Gid: 1000 1000 1000 1000",
            "Groups: 10 20",
            "user"
        ],
        "{out}"
    );
}

#[test]
fn umask() {
    let t = Test::new();
    let b = t.bundle();
    assert_eq!(t.run_sh(&b, "default", "umask"), "0022\n");
    b.config(|c| c["process"]["user"]["umask"] = json!(0o027));
    assert_eq!(t.run_sh(&b, "set", "umask"), "0027\n");
}

#[test]
fn home_comes_from_passwd_unless_set() {
    let t = Test::new();
    let b = t.bundle();
    assert_eq!(t.run_sh(&b, "root", "echo $HOME"), "/root\n");
    b.config(|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1000}));
    assert_eq!(t.run_sh(&b, "user", "echo $HOME"), "/home/user\n");
    b.config(|c| c["process"]["user"] = json!({"uid": 4242, "gid": 4242}));
    assert_eq!(t.run_sh(&b, "unknown", "echo $HOME"), "/\n");
    b.env(&["HOME=/custom"]);
    assert_eq!(t.run_sh(&b, "set", "echo $HOME"), "/custom\n");
}

#[test]
fn stdin_is_passed_through() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["cat"]);
    let out = t.run_with_stdin(&b, "in", b"hello\nworld\n").ok();
    assert_eq!(out.stdout, "hello\nworld\n");
}

/// The container's open fds (`ls -l /proc/self/fd` as its init) without
/// the one ls opens to read the directory: fd -> target.
fn container_fds(
    t: &Test,
    b: &Bundle,
    id: &str,
    extra_args: &[&str],
    pass: Vec<(File, i32)>,
) -> BTreeMap<u32, String> {
    b.args(&["ls", "-l", "/proc/self/fd"]);
    let mut args = vec!["run"];
    args.extend_from_slice(extra_args);
    args.extend(["--bundle", b.path(), id]);
    let mut cmd = t.command(&args);
    pass_fds(&mut cmd, pass);
    let out = t.output(&mut cmd).ok();
    fd_listing(&out.stdout)
}

#[test]
fn only_stdio_reaches_the_container() {
    let t = Test::new();
    let b = t.bundle();
    let fds = container_fds(&t, &b, "plain", &[], vec![]);
    assert_eq!(
        fds.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2],
        "{fds:?}"
    );
    let leaked = vec![
        (host_file(&t, "leaked3", ""), 3),
        (host_file(&t, "leaked5", ""), 5),
    ];
    let fds = container_fds(&t, &b, "leak", &[], leaked);
    assert_eq!(
        fds.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2],
        "fds of hull's caller leaked: {fds:?}"
    );
    // Also under a profile without close_range, loaded early (no
    // no_new_privs), as profiles older than the syscall are.
    b.config(|c| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}]});
    });
    let leaked = vec![(host_file(&t, "leaked4", ""), 4)];
    let fds = container_fds(&t, &b, "old-profile", &[], leaked);
    assert_eq!(
        fds.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2],
        "fds leaked without close_range: {fds:?}"
    );
}

#[test]
fn preserve_fds_passes_the_first_n() {
    let t = Test::new();
    let b = t.bundle();
    let pass = || {
        vec![
            (host_file(&t, "preserved", "kept\n"), 3),
            (host_file(&t, "dropped", ""), 4),
        ]
    };
    let fds = container_fds(&t, &b, "ls", &["--preserve-fds", "1"], pass());
    assert_eq!(
        fds.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "{fds:?}"
    );
    b.sh("cat <&3");
    let mut cmd = t.command(&["run", "--preserve-fds", "1", "--bundle", b.path(), "cat"]);
    pass_fds(&mut cmd, pass());
    assert_eq!(t.output(&mut cmd).ok().stdout, "kept\n");
}

/// As runc: the cwd is entered before the user switch, so a directory
/// only the container's root may enter still works as a non-root user's
/// cwd (runc bats: "create can chdir if runc has access", "exec --user
/// with no access to cwd").
#[test]
fn a_cwd_only_root_may_enter_works_for_another_user() {
    let t = Test::new();
    let b = t.bundle_own_rootfs();
    let secret = b.rootfs.join("secret");
    fs::create_dir_all(&secret).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o700)).unwrap();
    b.config(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["cwd"] = json!("/secret");
    });
    b.sh("pwd; id -u; sleep 1000 & wait");
    t.run_detached(&b, "cwd");
    let out = t
        .hull(&[
            "exec",
            "--user",
            "1000:1000",
            "--cwd",
            "/secret",
            "cwd",
            "pwd",
        ])
        .ok();
    assert_eq!(out.lines(), ["/secret"], "{out}");
}
