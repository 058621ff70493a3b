//! The translation, field by field, and the schemas under schemas/.

use super::spec::{DEFAULT_PATH, HostDevice, HostFacts, translate};
use super::*;
use ::caps::Capability;
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Spec};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const CGROUP: &str = "/hull/c1";

fn cmd() -> Command {
    Command {
        id: "0123456789abcdef".into(),
        rootfs: "/images/busybox".into(),
        entrypoint: "sh".into(),
        arguments: vec!["-c".into(), "echo hi".into()],
        ..Default::default()
    }
}

fn root_facts() -> HostFacts {
    HostFacts {
        user: Some(ExecUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
        }),
        ..Default::default()
    }
}

fn spec_of(c: &Command, facts: &HostFacts) -> Spec {
    c.validate().unwrap();
    let spec = translate(c, facts, CGROUP).unwrap();
    assert_valid_config(&spec);
    spec
}

fn spec(c: &Command) -> Spec {
    spec_of(c, &root_facts())
}

fn json_of(spec: &Spec) -> Value {
    serde_json::to_value(spec).unwrap()
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = format!("{}/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::meta::validate(&schema)
        .unwrap_or_else(|e| panic!("{name}: not a valid schema: {e}"));
    jsonschema::validator_for(&schema).unwrap()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[track_caller]
fn assert_valid_config(spec: &Spec) {
    let doc = json_of(spec);
    let errs = errors(&schema("oci-config.schema.json"), &doc);
    assert!(errs.is_empty(), "config.json invalid: {errs:#?}\n{doc:#}");
}

fn process(spec: &Spec) -> &oci_spec::runtime::Process {
    spec.process().as_ref().unwrap()
}

fn linux(spec: &Spec) -> &oci_spec::runtime::Linux {
    spec.linux().as_ref().unwrap()
}

fn cap_names(set: &Option<oci_spec::runtime::Capabilities>) -> Vec<String> {
    let mut v: Vec<String> = set.iter().flatten().map(|c| format!("CAP_{c}")).collect();
    v.sort();
    v
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn process_args_env_cwd_terminal() {
    let s = spec(&cmd());
    let p = process(&s);
    assert_eq!(p.args().as_deref().unwrap(), ["sh", "-c", "echo hi"]);
    assert_eq!(p.env().as_deref().unwrap(), [DEFAULT_PATH]);
    assert_eq!(p.cwd(), std::path::Path::new("/"));
    assert_eq!(p.terminal(), Some(false));
    assert_eq!(p.no_new_privileges(), Some(false));

    let mut c = cmd();
    c.env = vec!["PATH=/bin".into(), "A=1".into()];
    c.working_dir = "/tmp".into();
    c.tty = true;
    let s = spec(&c);
    let p = process(&s);
    assert_eq!(p.env().as_deref().unwrap(), ["PATH=/bin", "A=1"]);
    assert_eq!(p.cwd(), std::path::Path::new("/tmp"));
    assert_eq!(p.terminal(), Some(true));
}

#[test]
fn root_hostname_cgroup_version() {
    let s = spec(&cmd());
    let root = s.root().as_ref().unwrap();
    assert_eq!(root.path(), std::path::Path::new("/images/busybox"));
    assert_eq!(root.readonly(), Some(false));
    assert_eq!(s.hostname().as_deref(), Some("0123456789ab"));
    assert_eq!(
        linux(&s).cgroups_path().as_deref(),
        Some(std::path::Path::new(CGROUP))
    );
    assert_eq!(s.version(), crate::container::state::OCI_VERSION);
    let mut c = cmd();
    c.hostname = "web".into();
    assert_eq!(spec(&c).hostname().as_deref(), Some("web"));
}

#[test]
fn user_and_groups() {
    let facts = HostFacts {
        user: Some(ExecUser {
            uid: 1000,
            gid: 100,
            additional_gids: vec![10, 29],
        }),
        ..Default::default()
    };
    let s = spec_of(&cmd(), &facts);
    let u = process(&s).user();
    assert_eq!((u.uid(), u.gid()), (1000, 100));
    assert_eq!(u.additional_gids().as_deref(), Some(&[10, 29][..]));
    let s = spec(&cmd());
    let u = process(&s).user();
    assert_eq!(
        (u.uid(), u.gid(), u.additional_gids().clone()),
        (0, 0, None)
    );
}

#[test]
fn default_capabilities() {
    let s = spec(&cmd());
    let caps = process(&s).capabilities().as_ref().unwrap();
    let want = sorted(&[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
        "CAP_SYS_CHROOT",
        "CAP_MKNOD",
        "CAP_AUDIT_WRITE",
        "CAP_SETFCAP",
    ]);
    assert_eq!(cap_names(caps.bounding()), want);
    assert_eq!(cap_names(caps.effective()), want);
    assert_eq!(cap_names(caps.permitted()), want);
    assert!(cap_names(caps.inheritable()).is_empty());
    assert!(cap_names(caps.ambient()).is_empty());
}

#[test]
fn cap_add_and_drop() {
    let mut c = cmd();
    c.cap_add = vec!["NET_ADMIN".into(), "cap_sys_time".into()];
    c.cap_drop = vec!["CHOWN".into(), "CAP_NET_RAW".into()];
    let s = spec(&c);
    let eff = cap_names(process(&s).capabilities().as_ref().unwrap().effective());
    assert!(eff.contains(&"CAP_NET_ADMIN".into()) && eff.contains(&"CAP_SYS_TIME".into()));
    assert!(!eff.contains(&"CAP_CHOWN".into()) && !eff.contains(&"CAP_NET_RAW".into()));
    assert_eq!(eff.len(), 14);

    c.cap_drop = vec!["ALL".into()];
    c.cap_add = vec!["KILL".into()];
    let s = spec(&c);
    let caps = process(&s).capabilities().as_ref().unwrap();
    assert_eq!(cap_names(caps.bounding()), ["CAP_KILL"]);
}

#[test]
fn non_root_user_keeps_only_the_bounding_set() {
    let facts = HostFacts {
        user: Some(ExecUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![],
        }),
        ..Default::default()
    };
    let s = spec_of(&cmd(), &facts);
    let caps = process(&s).capabilities().as_ref().unwrap();
    assert_eq!(cap_names(caps.bounding()).len(), 14);
    assert!(cap_names(caps.effective()).is_empty());
    assert!(cap_names(caps.permitted()).is_empty());
}

fn ns(spec: &Spec) -> Vec<(LinuxNamespaceType, Option<std::path::PathBuf>)> {
    linux(spec)
        .namespaces()
        .iter()
        .flatten()
        .map(|n| (n.typ(), n.path().clone()))
        .collect()
}

#[test]
fn namespaces() {
    use LinuxNamespaceType::{Ipc, Mount, Pid, Uts};
    const NET: LinuxNamespaceType = LinuxNamespaceType::Network;
    let base = vec![(Pid, None), (Ipc, None), (Uts, None), (Mount, None)];
    let mut want = base.clone();
    want.push((NET, None));
    assert_eq!(ns(&spec(&cmd())), want);

    let mut c = cmd();
    c.network = Some(Network {
        host_networking: true,
        ..Default::default()
    });
    assert_eq!(ns(&spec(&c)), base);

    c.network = Some(Network {
        container_id: "other".into(),
        ..Default::default()
    });
    let mut facts = root_facts();
    facts.join_netns = Some("/proc/42/ns/net".into());
    let mut want = base.clone();
    want.push((NET, Some("/proc/42/ns/net".into())));
    assert_eq!(ns(&spec_of(&c, &facts)), want);

    // An interface still means a new namespace (the driver adds the veth).
    c.network = Some(Network {
        mtu: 1400,
        interface: Some(Interface {
            ip: "192.0.2.2".into(),
            ip_prefix_len: 24,
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(ns(&spec(&c)).last().unwrap(), &(NET, None));
}

fn mounts(spec: &Spec) -> Vec<(String, String, Vec<String>)> {
    spec.mounts()
        .iter()
        .flatten()
        .map(|m| {
            (
                m.destination().display().to_string(),
                m.typ().clone().unwrap_or_default(),
                m.options().clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn default_mounts() {
    let m = mounts(&spec(&cmd()));
    let dests: Vec<&str> = m.iter().map(|(d, _, _)| d.as_str()).collect();
    assert_eq!(
        dests,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue",
            "/sys"
        ]
    );
    let types: Vec<&str> = m.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        ["proc", "tmpfs", "devpts", "tmpfs", "mqueue", "sysfs"]
    );
    assert!(m[5].2.contains(&"ro".to_string()));
    assert!(m[2].2.contains(&"newinstance".to_string()));
}

#[test]
fn bind_mounts() {
    let mut c = cmd();
    c.mounts = vec![
        Mount {
            source: "/srv/data".into(),
            destination: "/data".into(),
            writable: true,
            private: true,
            ..Default::default()
        },
        Mount {
            source: "/etc/hosts".into(),
            destination: "/etc/hosts".into(),
            slave: true,
            ..Default::default()
        },
        Mount {
            source: "/srv/ro".into(),
            destination: "/ro".into(),
            ..Default::default()
        },
    ];
    let s = spec(&c);
    let all: Vec<&oci_spec::runtime::Mount> = s.mounts().iter().flatten().skip(6).collect();
    assert_eq!(all.len(), 3);
    let opts = |i: usize| all[i].options().clone().unwrap();
    assert_eq!(
        all[0].source().as_deref(),
        Some(std::path::Path::new("/srv/data"))
    );
    assert_eq!(all[0].destination(), std::path::Path::new("/data"));
    assert_eq!(all[0].typ().as_deref(), Some("bind"));
    assert_eq!(opts(0), ["rbind", "rw", "rprivate"]);
    assert_eq!(opts(1), ["rbind", "ro", "rslave"]);
    assert_eq!(opts(2), ["rbind", "ro"]);
}

#[test]
fn masked_and_readonly_paths() {
    let s = spec(&cmd());
    let l = linux(&s);
    assert_eq!(l.masked_paths().as_deref().unwrap(), MASKED_PATHS);
    assert_eq!(l.readonly_paths().as_deref().unwrap(), READONLY_PATHS);
}

#[test]
fn resources() {
    let mut c = cmd();
    c.resources = Some(Resources {
        memory: 64 << 20,
        memory_swap: 128 << 20,
        cpu_shares: 512,
        cpuset: "0-1".into(),
    });
    let s = spec(&c);
    let r = linux(&s).resources().as_ref().unwrap();
    let m = r.memory().as_ref().unwrap();
    assert_eq!((m.limit(), m.swap()), (Some(64 << 20), Some(128 << 20)));
    let cpu = r.cpu().as_ref().unwrap();
    assert_eq!(cpu.shares(), Some(512));
    assert_eq!(cpu.cpus().as_deref(), Some("0-1"));

    // 0 is unset; -1 swap is unlimited.
    c.resources = Some(Resources {
        memory: 1 << 20,
        memory_swap: -1,
        ..Default::default()
    });
    let s = spec(&c);
    let r = linux(&s).resources().as_ref().unwrap();
    assert_eq!(r.memory().as_ref().unwrap().swap(), Some(-1));
    assert!(r.cpu().is_none());
    c.resources = None;
    let s = spec(&c);
    assert!(linux(&s).resources().as_ref().unwrap().memory().is_none());
}

#[test]
fn lxc_config_overrides_resources() {
    let mut c = cmd();
    c.resources = Some(Resources {
        cpu_shares: 512,
        ..Default::default()
    });
    c.config = BTreeMap::from([(
        "lxc".to_string(),
        vec![
            "lxc.cgroup.cpu.shares=256".to_string(),
            "lxc.cgroup.pids.max=64".to_string(),
            "lxc.cgroup.memory.limit_in_bytes=32M".to_string(),
            "lxc.cgroup.devices.allow=c 10:229 rwm".to_string(),
        ],
    )]);
    let s = spec(&c);
    let r = linux(&s).resources().as_ref().unwrap();
    assert_eq!(r.cpu().as_ref().unwrap().shares(), Some(256));
    assert_eq!(r.pids().as_ref().unwrap().limit(), 64);
    assert_eq!(r.memory().as_ref().unwrap().limit(), Some(32 << 20));
    let last = r.devices().as_ref().unwrap().last().unwrap();
    assert_eq!((last.major(), last.minor()), (Some(10), Some(229)));
}

/// A device rule's fields: allow, type, major, minor, access.
type Rule = (
    bool,
    Option<LinuxDeviceType>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

#[test]
fn device_rules_and_nodes() {
    let mut c = cmd();
    c.allowed_devices = vec![
        Device {
            r#type: 'c',
            major_number: 10,
            minor_number: 200,
            cgroup_permissions: "rw".into(),
            ..Default::default()
        },
        Device {
            r#type: 'b',
            major_number: 7,
            minor_number: -1,
            cgroup_permissions: "r".into(),
            ..Default::default()
        },
    ];
    c.autocreated_devices = vec![Device {
        r#type: 'c',
        path: "/dev/fuse".into(),
        major_number: 10,
        minor_number: 229,
        file_mode: 0o20000660,
        uid: 5,
        gid: 6,
        ..Default::default()
    }];
    let s = spec(&c);
    let l = linux(&s);
    let rules = l.resources().as_ref().unwrap().devices().clone().unwrap();
    let r: Vec<Rule> = rules
        .iter()
        .map(|r| (r.allow(), r.typ(), r.major(), r.minor(), r.access().clone()))
        .collect();
    assert_eq!(r[0], (false, None, None, None, Some("rwm".into())));
    assert_eq!(
        r[1],
        (
            true,
            Some(LinuxDeviceType::C),
            Some(10),
            Some(200),
            Some("rw".into())
        )
    );
    assert_eq!(
        r[2],
        (
            true,
            Some(LinuxDeviceType::B),
            Some(7),
            None,
            Some("r".into())
        )
    );
    assert_eq!(
        r[3],
        (
            true,
            Some(LinuxDeviceType::C),
            Some(10),
            Some(229),
            Some("rwm".into())
        )
    );
    assert_eq!(r.len(), 4);
    let nodes = l.devices().clone().unwrap();
    assert_eq!(nodes.len(), 1);
    let d = &nodes[0];
    assert_eq!(d.path(), std::path::Path::new("/dev/fuse"));
    assert_eq!(d.typ(), LinuxDeviceType::C);
    assert_eq!((d.major(), d.minor()), (10, 229));
    assert_eq!(d.file_mode(), Some(0o660));
    assert_eq!((d.uid(), d.gid()), (Some(5), Some(6)));
}

#[test]
fn privileged() {
    let mut c = cmd();
    c.privileged = true;
    c.cap_drop = vec!["SETUID".into()];
    let facts = HostFacts {
        held_caps: vec![
            Capability::CAP_SYS_ADMIN,
            Capability::CAP_CHOWN,
            Capability::CAP_SETUID,
        ],
        devices: vec![HostDevice {
            path: "/dev/loop0".into(),
            kind: 'b',
            major: 7,
            minor: 0,
            mode: 0o600,
            uid: 0,
            gid: 6,
        }],
        ..root_facts()
    };
    let s = spec_of(&c, &facts);
    let caps = process(&s).capabilities().as_ref().unwrap();
    // Every held capability, less the dropped ones.
    assert_eq!(cap_names(caps.effective()), ["CAP_CHOWN", "CAP_SYS_ADMIN"]);
    c.cap_drop = vec!["ALL".into()];
    c.cap_add = vec!["ALL".into()];
    let s2 = spec_of(&c, &facts);
    let caps = process(&s2).capabilities().as_ref().unwrap();
    assert_eq!(cap_names(caps.bounding()), Vec::<String>::new());
    let l = linux(&s);
    assert!(l.masked_paths().is_none() && l.readonly_paths().is_none());
    let sys = mounts(&s)
        .into_iter()
        .find(|(d, _, _)| d == "/sys")
        .unwrap();
    assert!(sys.2.contains(&"rw".to_string()) && !sys.2.contains(&"ro".to_string()));
    let rules = l.resources().as_ref().unwrap().devices().clone().unwrap();
    assert!(rules[0].allow());
    assert_eq!(rules[0].access().as_deref(), Some("rwm"));
    assert_eq!(rules[0].major(), None);
    let nodes = l.devices().clone().unwrap();
    assert_eq!(nodes[0].path(), std::path::Path::new("/dev/loop0"));
    assert_eq!(nodes[0].typ(), LinuxDeviceType::B);
    assert!(s.linux().as_ref().unwrap().seccomp().is_none());
}

#[test]
fn host_devices_skip_what_the_runtime_makes() {
    let devs = host_devices(std::path::Path::new("/dev")).unwrap();
    assert!(devs.iter().any(|d| d.path == "/dev/null" && d.kind == 'c'));
    for skipped in ["/dev/console", "/dev/ptmx", "/dev/pts/0"] {
        assert!(!devs.iter().any(|d| d.path == skipped), "{skipped}");
    }
}

/// A temp rootfs with a passwd and group, removed on drop.
struct TempRootfs(std::path::PathBuf);

impl TempRootfs {
    fn new(name: &str) -> TempRootfs {
        let dir =
            std::env::temp_dir().join(format!("hull-driver-unit-{}-{name}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nwheel:x:10:user\n").unwrap();
        TempRootfs(dir)
    }
}

impl Drop for TempRootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn driver() -> Driver {
    Driver {
        root: "/nonexistent/driver".into(),
        state_root: "/nonexistent/state".into(),
        cgroup_parent: "/parent/".into(),
    }
}

#[test]
fn to_spec_reads_the_rootfs() {
    let r = TempRootfs::new("users");
    let mut c = cmd();
    c.rootfs = r.0.display().to_string();
    c.user = "user".into();
    let s = driver().to_spec(&c).unwrap();
    let u = process(&s).user();
    assert_eq!((u.uid(), u.gid()), (1000, 1000));
    assert_eq!(u.additional_gids().as_deref(), Some(&[10][..]));
    assert_eq!(
        linux(&s).cgroups_path().as_deref(),
        Some(std::path::Path::new("/parent/0123456789abcdef"))
    );
    assert_valid_config(&s);
}

#[test]
fn to_spec_refuses_what_the_host_lacks() {
    let r = TempRootfs::new("refusals");
    let d = driver();
    let mut c = cmd();
    c.rootfs = r.0.display().to_string();
    let err = |c: &Command| d.to_spec(c).unwrap_err().to_string();

    let mut bad = c.clone();
    bad.user = "nobody".into();
    assert!(
        err(&bad).starts_with("command: user: unknown user \"nobody\""),
        "{}",
        err(&bad)
    );
    bad.user = "user:staff".into();
    assert!(err(&bad).starts_with("command: user: unknown group \"staff\""));

    let mut bad = c.clone();
    bad.rootfs = "/nonexistent/rootfs".into();
    assert!(err(&bad).starts_with("command: rootfs: /nonexistent/rootfs does not exist"));

    let mut bad = c.clone();
    bad.mounts = vec![Mount {
        source: "/nonexistent/src".into(),
        destination: "/x".into(),
        ..Default::default()
    }];
    assert_eq!(
        err(&bad),
        "command: mounts[0].source: /nonexistent/src: no such file or directory"
    );

    let mut bad = c.clone();
    bad.network = Some(Network {
        container_id: "missing".into(),
        ..Default::default()
    });
    assert_eq!(
        err(&bad),
        "command: network.container_id: container \"missing\" does not exist"
    );

    let mut bad = c.clone();
    bad.entrypoint.clear();
    assert_eq!(err(&bad), "command: entrypoint: missing");
}

fn examples() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 4, "examples missing in {}", dir.display());
    out
}

#[test]
fn examples_match_the_command_schema_and_translate_to_valid_configs() {
    let v = schema("driver-command.schema.json");
    for (name, doc) in examples() {
        let errs = errors(&v, &doc);
        assert!(errs.is_empty(), "{name}: {errs:#?}");
        let c = Command::from_json(doc.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.rootfs, "/var/lib/hull/examples/rootfs", "{name}");
        c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let facts = HostFacts {
            held_caps: vec![Capability::CAP_SYS_ADMIN],
            devices: host_devices(std::path::Path::new("/dev")).unwrap(),
            ..root_facts()
        };
        let spec = translate(&c, &facts, CGROUP).unwrap();
        assert_valid_config(&spec);
    }
}

#[test]
fn schema_and_parser_agree_on_invalid_commands() {
    let v = schema("driver-command.schema.json");
    let base = json!({"id": "x", "rootfs": "/r", "entrypoint": "sh"});
    assert!(errors(&v, &base).is_empty());
    let edits: Vec<(&str, Value)> = vec![
        ("bogus", json!(1)),
        ("rootfs", json!("relative")),
        ("entrypoint", json!("")),
        ("id", json!("a/b")),
        ("cap_add", json!(["NET ADMIN"])),
        (
            "network",
            json!({"interface": {"ip": "192.0.2.1", "ip_prefix_len": 33}}),
        ),
        (
            "network",
            json!({"interface": {"ip": "192.0.2.256", "ip_prefix_len": 24}}),
        ),
        ("network", json!({"mtu": 10})),
        ("resources", json!({"memory": -1})),
        ("resources", json!({"cpuset": "0-"})),
        ("mounts", json!([{"source": "/a", "destination": "b"}])),
        (
            "mounts",
            json!([{"source": "/a", "destination": "/b", "private": true, "slave": true}]),
        ),
        ("allowed_devices", json!([{"type": "x"}])),
        (
            "autocreated_devices",
            json!([{"type": "a", "path": "/dev/x", "major_number": 1, "minor_number": 1}]),
        ),
        ("config", json!({"native": ["x=y"]})),
        ("config", json!({"lxc": ["lxc.utsname=x"]})),
        ("env", json!(["NOVALUE"])),
        ("user", json!("a:")),
    ];
    for (key, value) in edits {
        let mut doc = base.clone();
        doc[key] = value.clone();
        assert!(
            !errors(&v, &doc).is_empty(),
            "schema accepts {key}: {value}"
        );
        let parsed = Command::from_json(doc.to_string().as_bytes()).and_then(|c| c.validate());
        let e = parsed.expect_err(&format!("parser accepts {key}: {value}"));
        let field = if key == "bogus" { "`bogus`" } else { key };
        assert!(e.message().contains(field), "{key}: {e}");
    }
    // With a missing required key, both refuse.
    for key in ["id", "rootfs", "entrypoint"] {
        let mut doc = base.clone();
        doc.as_object_mut().unwrap().remove(key);
        assert!(!errors(&v, &doc).is_empty(), "{key}");
        let e = Command::from_json(doc.to_string().as_bytes())
            .and_then(|c| c.validate())
            .unwrap_err();
        assert_eq!(e.message(), format!("command: {key}: missing"));
    }
}

#[test]
fn command_round_trips_as_go_would_marshal_it() {
    let mut c = cmd();
    c.allowed_devices = vec![Device {
        r#type: 'c',
        major_number: -1,
        minor_number: -1,
        ..Default::default()
    }];
    let text = serde_json::to_string(&c).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        errors(&schema("driver-command.schema.json"), &v).is_empty(),
        "{v:#}"
    );
    assert_eq!(Command::from_json(text.as_bytes()).unwrap(), c);
}

#[test]
fn readme_shows_the_doc_test() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme
        .find("## Driver")
        .expect("README has a Driver section")..];
    let start = section.find("```rust\n").expect("a rust block") + 8;
    let code = &section[start..start + section[start..].find("```").unwrap()];
    let docs: String = std::fs::read_to_string(root.join("src/driver/mod.rs"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
        .collect();
    assert!(
        docs.contains(code),
        "README's example is not the doc test:\n{code}"
    );
}
