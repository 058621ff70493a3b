//! Namespaces: new ones, joined ones, absent ones; id maps, time offsets, sysctl.

use crate::harness::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;

/// `sh -c script` in the bundle's container, asserting success; its stdout lines.
#[track_caller]
fn run_ok(t: &Test, b: &Bundle, id: &str, script: &str) -> Vec<String> {
    t.run_sh(b, id, script).lines().map(String::from).collect()
}

/// The container's namespace of `typ` (`readlink /proc/self/ns/<typ>`).
fn container_ns(t: &Test, b: &Bundle, typ: &str) -> String {
    run_ok(
        t,
        b,
        &format!("ns-{typ}"),
        &format!("readlink /proc/self/ns/{typ}"),
    )
    .join("\n")
}

#[test]
fn pid_namespace() {
    let t = Test::new();
    let b = t.bundle();
    assert_eq!(run_ok(&t, &b, "pid", "echo $$"), ["1"]);
    assert_ne!(container_ns(&t, &b, "pid"), host_ns("pid"));
}

#[test]
fn uts_namespace_sets_hostname_and_domainname() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| {
        c["hostname"] = json!("box.hull");
        c["domainname"] = json!("example.org");
    });
    let lines = run_ok(
        &t,
        &b,
        "uts",
        "cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname; hostname",
    );
    assert_eq!(lines, ["box.hull", "example.org", "box.hull"]);
    assert_ne!(container_ns(&t, &b, "uts"), host_ns("uts"));
}

#[test]
fn ipc_namespace() {
    let t = Test::new();
    let b = t.bundle();
    assert_ne!(container_ns(&t, &b, "ipc"), host_ns("ipc"));
}

#[test]
fn network_namespace_has_only_lo() {
    let t = Test::new();
    let b = t.bundle();
    let lines = run_ok(
        &t,
        &b,
        "net",
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
    );
    assert_eq!(lines, ["lo"]);
    assert_ne!(container_ns(&t, &b, "net"), host_ns("net"));
}

#[test]
fn mount_namespace() {
    let t = Test::new();
    let b = t.bundle();
    assert_ne!(container_ns(&t, &b, "mnt"), host_ns("mnt"));
}

#[test]
fn absent_namespaces_are_the_hosts() {
    let t = Test::new();
    let b = t.bundle();
    b.without_namespace("network")
        .without_namespace("ipc")
        .without_namespace("uts");
    // The host's hostname is not the container's to set.
    t.create(&b, "host-name")
        .fails_with("hostname: needs a uts namespace (new or joined)");
    t.assert_nothing_left("host-name");
    b.config(|c| drop(c.as_object_mut().unwrap().remove("hostname")));
    for typ in ["net", "ipc", "uts"] {
        assert_eq!(container_ns(&t, &b, typ), host_ns(typ), "{typ}");
    }
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(run_ok(&t, &b, "host-uts", "hostname"), [hostname.trim()]);
}

/// Without a mount namespace of its own the container is only chrooted
/// (nothing is mounted in the host's): no /proc, yet it must wait for
/// start on its exec fifo and run.
#[test]
fn without_a_mount_namespace_the_container_runs() {
    let t = Test::new();
    let b = t.bundle();
    b.without_namespace("mount");
    b.config(|c| c["mounts"] = json!([]));
    let lines = run_ok(&t, &b, "nomnt", "echo in-chroot; ls /proc | wc -l");
    assert_eq!(lines, ["in-chroot", "0"]);
}

#[test]
fn join_namespaces_by_path() {
    let t = Test::new();
    let a = t.bundle();
    a.args(&["sleep", "1000"])
        .config(|c| c["hostname"] = json!("hull-a"));
    t.run_detached(&a, "a");
    let pid = t.state("a")["pid"].as_i64().unwrap();
    let ns_a = |typ: &str| {
        fs::read_link(format!("/proc/{pid}/ns/{typ}"))
            .unwrap()
            .display()
            .to_string()
    };

    let b = t.bundle();
    for (typ, file) in [("network", "net"), ("uts", "uts"), ("ipc", "ipc")] {
        b.namespace(typ, Some(&format!("/proc/{pid}/ns/{file}")));
    }
    b.config(|c| drop(c.as_object_mut().unwrap().remove("hostname")));
    let lines = run_ok(
        &t,
        &b,
        "b",
        "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/uts; readlink /proc/self/ns/ipc; readlink /proc/self/ns/mnt",
    );
    assert_eq!(
        lines[..4],
        ["hull-a".to_string(), ns_a("net"), ns_a("uts"), ns_a("ipc")]
    );
    assert_ne!(
        lines[4],
        ns_a("mnt"),
        "the mount namespace was not asked to be joined"
    );
    // A hostname is set in a joined uts namespace, as runc does.
    b.config(|c| c["hostname"] = json!("hull-b"));
    assert_eq!(run_ok(&t, &b, "b2", "hostname"), ["hull-b"]);
    let uts_a = t.hull(&["exec", "a", "hostname"]).ok();
    assert_eq!(uts_a.stdout, "hull-b\n", "{uts_a}");
}

#[test]
fn user_namespace_with_id_mappings() {
    let t = Test::new();
    let b = t.bundle();
    b.namespace("user", None).config(|c| {
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    });
    b.sh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map");
    let out = t.run(&b, "userns").ok();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            vec!["0"],
            vec!["0"],
            vec!["0", "100000", "65536"],
            vec!["0", "200000", "65536"]
        ],
        "{out}"
    );
}

/// A bind source behind a directory only host root may enter: the init,
/// in its user namespace, could not reach it, so the parent opens it as
/// host root first (as runc), and the container sees its files.
#[test]
fn user_namespace_binds_a_source_only_host_root_can_reach() {
    let t = Test::new();
    let private = t.host_dir("private");
    let inner = private.join("inner");
    fs::create_dir(&inner).unwrap();
    fs::write(inner.join("f"), "behind 0700\n").unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let b = t.bundle();
    b.namespace("user", None).config(|c| {
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    b.bind(&inner, "/mnt", &["ro"]);
    assert_eq!(t.run_sh(&b, "privbind", "cat /mnt/f"), "behind 0700\n");
}

#[test]
fn time_namespace_offsets_boottime() {
    const OFFSET: f64 = 100_000.0;
    let t = Test::new();
    let b = t.bundle();
    b.namespace("time", None).config(|c| {
        c["linux"]["timeOffsets"] = json!({"boottime": {"secs": OFFSET as i64, "nanosecs": 0}})
    });
    let uptime = |text: &str| {
        text.split_whitespace()
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    let before = uptime(&fs::read_to_string("/proc/uptime").unwrap());
    let inside = uptime(&run_ok(&t, &b, "timens", "cat /proc/uptime")[0]);
    let after = uptime(&fs::read_to_string("/proc/uptime").unwrap());
    assert!(
        inside >= before + OFFSET - 1.0 && inside <= after + OFFSET + 1.0,
        "uptime {inside} in the container, {before}..{after} on the host, offset {OFFSET}"
    );
}

#[test]
fn sysctl_is_set_in_the_container() {
    let t = Test::new();
    let b = t.bundle();
    assert_eq!(
        run_ok(&t, &b, "default", "cat /proc/sys/net/ipv4/ip_forward"),
        ["0"],
        "a new netns starts without forwarding"
    );
    b.config(|c| c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"}));
    assert_eq!(
        run_ok(&t, &b, "sysctl", "cat /proc/sys/net/ipv4/ip_forward"),
        ["1"]
    );
}

/// Joining a pid namespace by path: the container is in it, while `run`,
/// which goes on after the clone, is not left with it for its own later
/// children (its poststart hook runs in the host's pid namespace).
#[test]
fn joined_pid_namespace_stays_with_the_container() {
    let t = Test::new();
    let a = t.bundle();
    a.args(&["sleep", "1000"]);
    t.run_detached(&a, "a");
    let pid = t.state("a")["pid"].as_i64().unwrap();
    let ns_a = fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    let ours = fs::read_link("/proc/self/ns/pid").unwrap();
    let hook_out = t.dir.join("hook-pidns");
    let b = t.bundle();
    b.namespace("pid", Some(&format!("/proc/{pid}/ns/pid")));
    b.config(|c| {
        let script = format!("readlink /proc/self/ns/pid > {}", hook_out.display());
        c["hooks"] = json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    });
    let lines = run_ok(&t, &b, "b", "readlink /proc/self/ns/pid");
    assert_eq!(
        lines[0],
        ns_a.display().to_string(),
        "the container joined A's pid namespace"
    );
    let hook = fs::read_to_string(&hook_out).unwrap();
    assert_eq!(
        hook.trim(),
        ours.display().to_string(),
        "run's later children stay in ours"
    );
}

/// Idmapped bind mounts (spec v1.3 `mounts[].uidMappings`, `idmap`): what
/// is uid 0 on the host's disk is the container's root inside, and what
/// the container's root writes is 0 on disk; without the idmap the same
/// files belong to nobody. A bare `idmap` takes the container's maps.
#[test]
fn idmapped_mounts_show_host_files_as_the_containers_own() {
    use std::os::unix::fs::MetadataExt;
    let t = Test::new();
    let shared = t.host_dir("idmapped");
    fs::write(shared.join("f"), "x").unwrap();
    let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let bundle = |mount: serde_json::Value| {
        let b = t.bundle();
        b.namespace("user", None).config(|c| {
            c["linux"]["uidMappings"] = maps.clone();
            c["linux"]["gidMappings"] = maps.clone();
        });
        b.mount(mount);
        b
    };
    let src = shared.to_str().unwrap();
    let mapped = bundle(json!({"destination": "/mnt", "type": "bind", "source": src,
        "options": ["rbind", "rw"], "uidMappings": maps, "gidMappings": maps}));
    let script = "stat -c '%u %g' /mnt/f; touch /mnt/made && stat -c '%u %g' /mnt/made";
    assert_eq!(t.run_sh(&mapped, "idm1", script), "0 0\n0 0\n");
    let made = fs::metadata(shared.join("made")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (0, 0),
        "root's on the host's disk"
    );

    let bare = bundle(json!({"destination": "/mnt", "type": "bind", "source": src,
        "options": ["rbind", "idmap"]}));
    assert_eq!(t.run_sh(&bare, "idm2", "stat -c '%u %g' /mnt/f"), "0 0\n");
    let plain = bundle(json!({"destination": "/mnt", "type": "bind", "source": src,
        "options": ["rbind"]}));
    assert_eq!(
        t.run_sh(&plain, "idm3", "stat -c '%u %g' /mnt/f"),
        "65534 65534\n"
    );

    // No maps anywhere: refused, naming the field.
    let none = t.bundle();
    none.args(&["true"]);
    none.mount(json!({"destination": "/mnt", "type": "bind", "source": src,
        "options": ["rbind", "idmap"]}));
    let n = last_mount_index(&none);
    t.run(&none, "idm4").fails_with(&format!(
        "mounts[{n}].uidMappings: idmap needs the mount's uidMappings"
    ));
    t.assert_nothing_left("idm4");
}

/// The index of a bundle's last mount.
fn last_mount_index(b: &Bundle) -> usize {
    let mut n = 0;
    b.config(|c| n = c["mounts"].as_array().unwrap().len() - 1);
    n
}
