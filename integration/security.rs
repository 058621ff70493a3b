//! Security fields checked from inside real containers (issue 3):
//! capabilities, no_new_privs, rlimits, oom_score_adj, umask, personality,
//! scheduler, I/O priority, memory policy, seccomp (hand-written rules, a
//! Docker-style default-deny profile and podman's default profile), LSM
//! labels on a host without LSMs, and the escapes runc's CVEs taught:
//! leaked fds and cwd (CVE-2024-21626), /proc/self/exe (CVE-2019-5736),
//! symlinks and swaps under the rootfs (CVE-2021-30465), masked paths.

use crate::harness::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Capability names by number (linux/capability.h).
const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The bit mask of a set of capability names, as /proc/<pid>/status shows it.
fn mask(names: &[&str]) -> u64 {
    names
        .iter()
        .map(|n| {
            let i = CAP_NAMES
                .iter()
                .position(|c| c == n)
                .unwrap_or_else(|| panic!("unknown capability {n}"));
            1u64 << i
        })
        .fold(0, |a, b| a | b)
}

/// The value of `key:` in a /proc/<pid>/status text.
fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key} in\n{status}"))
        .trim()
}

/// The five capability sets of a status text, in status order.
fn cap_sets(status: &str) -> BTreeMap<&'static str, u64> {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .into_iter()
        .map(|k| {
            let hex = status_field(status, k);
            let v = u64::from_str_radix(hex, 16)
                .unwrap_or_else(|e| panic!("{k}: {hex:?} is not hex ({e})"));
            (k, v)
        })
        .collect()
}

fn hex_sets(sets: &BTreeMap<&'static str, u64>) -> String {
    sets.iter()
        .map(|(k, v)| format!("{k}={v:016x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// /proc/<pid>/status of a created container's init, read from the host:
/// the process exactly as hull leaves it before execve.
fn created_status(t: &Test, b: &Bundle, id: &str) -> String {
    t.create(b, id).ok();
    let pid = t.state(id)["pid"]
        .as_i64()
        .expect("created container has a pid");
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    t.hull(&["delete", "--force", id]).ok();
    status
}

/// A tmpfs on /tmp, so containers on the shared (read-only) rootfs can write.
fn writable_tmp(b: &Bundle) -> &Bundle {
    b.mount(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777", "size=1m"]}),
    )
}

/// `create` fails with one error line containing every needle and leaves
/// nothing behind.
#[track_caller]
fn create_fails(t: &Test, b: &Bundle, id: &str, needles: &[&str]) {
    let out = t.create(b, id);
    for n in needles {
        out.fails_with(n);
    }
    t.assert_nothing_left(id);
}

/// A copy of the hull binary in the test dir: the escape tests run (and
/// let containers attack) this one, never the build's.
fn hull_copy(t: &Test) -> PathBuf {
    let copy = t.dir.join("hull-copy");
    fs::copy(HULL, &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// `bin --root <test root> args...`, for a hull binary other than the build's.
fn command_of(t: &Test, bin: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("--root")
        .arg(&t.root)
        .args(args)
        .stdin(std::process::Stdio::null());
    cmd
}

/// Bind the host's shared libraries into an own-rootfs bundle, so that a
/// dynamically linked hull binary can run inside the container.
fn bind_host_libs(b: &Bundle) {
    // The multiarch directory, and where the binary's ELF interpreter is.
    let multiarch = format!("/lib/{}-linux-gnu", std::env::consts::ARCH);
    let loader = match std::env::consts::ARCH {
        "aarch64" => "/lib/ld-linux-aarch64.so.1",
        _ => "/lib64",
    };
    for path in [&*multiarch, loader] {
        let src = fs::canonicalize(path).unwrap();
        b.bind(&src, path, &["ro"]);
    }
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success(), "mkfifo {}", path.display());
}

/// Poll until `path` exists.
#[track_caller]
fn wait_file(path: &Path, timeout: Duration) {
    assert!(
        eventually(timeout, || path.exists()),
        "timed out waiting for {}",
        path.display()
    );
}

// ---------------------------------------------------------------------------
// Capabilities and no_new_privs
// ---------------------------------------------------------------------------

/// A config's five sets. `ambient` lists CAP_SYS_CHROOT, which is not in
/// `permitted`, so the kernel cannot make it ambient: it is skipped.
struct CapConfig {
    bounding: &'static [&'static str],
    effective: &'static [&'static str],
    inheritable: &'static [&'static str],
    permitted: &'static [&'static str],
    ambient: &'static [&'static str],
    /// What the kernel can make ambient: ambient ∩ permitted ∩ inheritable.
    ambient_applied: &'static [&'static str],
}

const CAPS: CapConfig = CapConfig {
    bounding: &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
        "CAP_SYS_CHROOT",
    ],
    effective: &["CAP_CHOWN", "CAP_KILL"],
    inheritable: &["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"],
    permitted: &[
        "CAP_CHOWN",
        "CAP_FOWNER",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
    ],
    ambient: &["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"],
    ambient_applied: &["CAP_KILL", "CAP_NET_BIND_SERVICE"],
};

impl CapConfig {
    fn json(&self) -> Value {
        json!({"bounding": self.bounding, "effective": self.effective,
            "inheritable": self.inheritable, "permitted": self.permitted,
            "ambient": self.ambient})
    }

    /// The sets hull must leave before execve: exactly the config's.
    fn before_exec(&self) -> BTreeMap<&'static str, u64> {
        BTreeMap::from([
            ("CapInh", mask(self.inheritable)),
            ("CapPrm", mask(self.permitted)),
            ("CapEff", mask(self.effective)),
            ("CapBnd", mask(self.bounding)),
            ("CapAmb", mask(self.ambient_applied)),
        ])
    }

    /// The sets after execve of a plain binary (no file capabilities, not
    /// setuid), by the kernel's rules (capabilities(7)):
    /// - root: P' = (bounding | inheritable) | ambient, and E' = P'; with
    ///   no_new_privs the gain is cut back to the old permitted set:
    ///   P' = ((bounding | inheritable) & permitted) | ambient.
    /// - anyone else: P' = E' = ambient.
    ///
    /// Inheritable, bounding and ambient pass unchanged.
    fn after_exec(&self, root: bool, nnp: bool) -> BTreeMap<&'static str, u64> {
        let (bnd, inh, prm, amb) = (
            mask(self.bounding),
            mask(self.inheritable),
            mask(self.permitted),
            mask(self.ambient_applied),
        );
        let p = match (root, nnp) {
            (true, false) => bnd | inh | amb,
            (true, true) => ((bnd | inh) & prm) | amb,
            (false, _) => amb,
        };
        BTreeMap::from([
            ("CapInh", inh),
            ("CapPrm", p),
            ("CapEff", p),
            ("CapBnd", bnd),
            ("CapAmb", amb),
        ])
    }
}

fn check_capabilities(uid: u32) {
    let t = Test::new();
    let b = t.bundle();
    for nnp in [true, false] {
        b.config(|c| {
            c["process"]["capabilities"] = CAPS.json();
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
            c["process"]["noNewPrivileges"] = json!(nnp);
        });
        let what = format!("uid {uid}, noNewPrivileges {nnp}");
        let id = format!("c{nnp}");
        let before = created_status(&t, &b, &id);
        let got = cap_sets(&before);
        assert_eq!(
            hex_sets(&got),
            hex_sets(&CAPS.before_exec()),
            "{what}: sets of the created init (before execve):\n{before}"
        );
        assert_eq!(
            status_field(&before, "NoNewPrivs"),
            if nnp { "1" } else { "0" },
            "{what}"
        );
        b.args(&["cat", "/proc/self/status"]);
        let inside = t.run(&b, &format!("r{nnp}")).ok().stdout;
        let got = cap_sets(&inside);
        assert_eq!(
            hex_sets(&got),
            hex_sets(&CAPS.after_exec(uid == 0, nnp)),
            "{what}: sets inside the container (after execve):\n{inside}"
        );
        assert_eq!(
            status_field(&inside, "NoNewPrivs"),
            if nnp { "1" } else { "0" },
            "{what}"
        );
    }
}

#[test]
fn capabilities_of_root_all_five_sets() {
    check_capabilities(0);
}

#[test]
fn capabilities_of_a_non_root_user_all_five_sets() {
    check_capabilities(1000);
}

#[test]
fn ambient_capability_works_for_a_non_root_user() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    let chown = ["CAP_CHOWN"];
    b.config(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({"bounding": chown, "effective": chown,
            "permitted": chown, "inheritable": chown, "ambient": chown});
    });
    let script = "touch /tmp/f && chown 0:0 /tmp/f && stat -c 'owner %u:%g' /tmp/f";
    assert_eq!(t.run_sh(&b, "amb", script), "owner 0:0\n");
    // Without the ambient set the user's process has no capability at all.
    b.config(|c| {
        c["process"]["capabilities"]
            .as_object_mut()
            .unwrap()
            .remove("ambient");
    });
    b.sh(script);
    let out = t.run(&b, "noamb");
    assert_ne!(
        out.code, 0,
        "chown worked without ambient CAP_CHOWN:\n{out}"
    );
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
}

#[test]
fn unknown_capability_is_an_error_naming_it() {
    for set in [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ] {
        let t = Test::new();
        let b = t.bundle();
        b.args(&["true"]).config(|c| {
            let caps = &mut c["process"]["capabilities"];
            if caps[set].is_null() {
                caps[set] = json!([]);
            }
            caps[set].as_array_mut().unwrap().push(json!("CAP_FOO"));
        });
        create_fails(&t, &b, "bad", &["CAP_FOO", set]);
    }
}

#[test]
fn no_new_privileges() {
    let t = Test::new();
    let b = t.bundle();
    for (uid, nnp, want) in [
        (0, true, "1"),
        (0, false, "0"),
        (1000, true, "1"),
        (1000, false, "0"),
    ] {
        b.config(|c| {
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
        });
        let out = t.run_sh(&b, &format!("n{uid}{nnp}"), "cat /proc/self/status");
        assert_eq!(
            status_field(&out, "NoNewPrivs"),
            want,
            "uid {uid} noNewPrivileges {nnp}"
        );
    }
    // Unset means false.
    b.config(|c| {
        c["process"]
            .as_object_mut()
            .unwrap()
            .remove("noNewPrivileges");
    });
    let out = t.run_sh(&b, "unset", "cat /proc/self/status");
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
}

// ---------------------------------------------------------------------------
// rlimits, oomScoreAdj, umask
// ---------------------------------------------------------------------------

/// Row label in /proc/<pid>/limits of each RLIMIT_* type.
const LIMIT_ROWS: &[(&str, &str)] = &[
    ("RLIMIT_CPU", "Max cpu time"),
    ("RLIMIT_FSIZE", "Max file size"),
    ("RLIMIT_DATA", "Max data size"),
    ("RLIMIT_STACK", "Max stack size"),
    ("RLIMIT_CORE", "Max core file size"),
    ("RLIMIT_RSS", "Max resident set"),
    ("RLIMIT_NPROC", "Max processes"),
    ("RLIMIT_NOFILE", "Max open files"),
    ("RLIMIT_MEMLOCK", "Max locked memory"),
    ("RLIMIT_AS", "Max address space"),
    ("RLIMIT_LOCKS", "Max file locks"),
    ("RLIMIT_SIGPENDING", "Max pending signals"),
    ("RLIMIT_MSGQUEUE", "Max msgqueue size"),
    ("RLIMIT_NICE", "Max nice priority"),
    ("RLIMIT_RTPRIO", "Max realtime priority"),
    ("RLIMIT_RTTIME", "Max realtime timeout"),
];

/// (soft, hard) of each row of a /proc/<pid>/limits text, by label.
fn parse_limits(text: &str) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1) {
        let Some((_, label)) = LIMIT_ROWS.iter().find(|(_, l)| line.starts_with(l)) else {
            continue;
        };
        let rest: Vec<&str> = line[label.len()..].split_whitespace().collect();
        out.insert(
            label.to_string(),
            (rest[0].to_string(), rest[1].to_string()),
        );
    }
    out
}

/// The hard limit of this (the test) process, inherited by hull.
fn host_hard(typ: &str) -> Option<u64> {
    let label = LIMIT_ROWS.iter().find(|(t, _)| *t == typ)?.1;
    let text = fs::read_to_string("/proc/self/limits").ok()?;
    parse_limits(&text).get(label)?.1.parse().ok()
}

#[test]
fn rlimits_every_type_soft_and_hard() {
    let t = Test::new();
    let b = t.bundle();
    // (type, soft, hard), each hard within this host's, which we may not raise.
    let wanted: Vec<(&str, u64, u64)> = [
        ("RLIMIT_CPU", 100, 200),
        ("RLIMIT_FSIZE", 1 << 20, 2 << 20),
        ("RLIMIT_DATA", 1 << 30, 2 << 30),
        ("RLIMIT_STACK", 4 << 20, 8 << 20),
        ("RLIMIT_CORE", 0, 1 << 20),
        ("RLIMIT_RSS", 1 << 30, 2 << 30),
        ("RLIMIT_NPROC", 500, 600),
        ("RLIMIT_NOFILE", 1000, 2000),
        ("RLIMIT_MEMLOCK", 64 << 10, 128 << 10),
        ("RLIMIT_AS", 4 << 30, 8 << 30),
        ("RLIMIT_LOCKS", 100, 200),
        ("RLIMIT_SIGPENDING", 100, 200),
        ("RLIMIT_MSGQUEUE", 8192, 16384),
        ("RLIMIT_NICE", 0, 0),
        ("RLIMIT_RTPRIO", 0, 0),
        ("RLIMIT_RTTIME", 1_000_000, 2_000_000),
    ]
    .into_iter()
    .map(|(typ, soft, hard)| {
        let cap = host_hard(typ).unwrap_or(u64::MAX);
        (typ, soft.min(cap), hard.min(cap))
    })
    .collect();
    b.config(|c| {
        c["process"]["rlimits"] = wanted
            .iter()
            .map(|(typ, soft, hard)| json!({"type": typ, "soft": soft, "hard": hard}))
            .collect();
    });
    let out = t.run_sh(
        &b,
        "rl",
        "cat /proc/self/limits; echo ulimit $(ulimit -n) $(ulimit -Hn) $(ulimit -c) $(ulimit -Hc)",
    );
    let limits = parse_limits(&out);
    for (typ, soft, hard) in &wanted {
        let label = LIMIT_ROWS.iter().find(|(t, _)| t == typ).unwrap().1;
        let got = limits
            .get(label)
            .unwrap_or_else(|| panic!("no {label} row:\n{out}"));
        assert_eq!(
            (got.0.as_str(), got.1.as_str()),
            (soft.to_string().as_str(), hard.to_string().as_str()),
            "{typ} ({label}):\n{out}"
        );
    }
    // busybox ulimit -c counts 512-byte blocks.
    assert!(
        out.lines().any(|l| l == "ulimit 1000 2000 0 2048"),
        "ulimit -n/-Hn/-c/-Hc:\n{out}"
    );
}

#[test]
fn unknown_rlimit_type_is_an_error_naming_it() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]).config(|c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]);
    });
    create_fails(&t, &b, "bad", &["RLIMIT_FOO", "process.rlimits"]);
}

#[test]
fn rlimit_above_the_hosts_hard_limit_fails_precisely() {
    let t = Test::new();
    let Some(host) = host_hard("RLIMIT_NOFILE") else {
        panic!("no host RLIMIT_NOFILE");
    };
    let caps = fs::read_to_string("/proc/self/status").unwrap();
    let eff = u64::from_str_radix(status_field(&caps, "CapEff"), 16).unwrap();
    if eff & mask(&["CAP_SYS_RESOURCE"]) != 0 {
        println!("note: this host's root has CAP_SYS_RESOURCE, may raise limits: skipped");
        return;
    }
    let b = t.bundle();
    let over = host + 1;
    b.args(&["true"]).config(|c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": over, "hard": over}]);
    });
    create_fails(
        &t,
        &b,
        "over",
        &[
            "RLIMIT_NOFILE",
            &format!("hard {over}"),
            "operation not permitted",
        ],
    );
    // soft above hard: EINVAL, also named.
    b.config(|c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2000, "hard": 1000}]);
    });
    create_fails(&t, &b, "inverted", &["RLIMIT_NOFILE", "soft 2000"]);
}

/// `hull args...` started by `sh -c PRELUDE; exec hull`: the container
/// inherits what the prelude set (umask, oom_score_adj...).
fn hull_after(t: &Test, prelude: &str, args: &[&str]) -> Out {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{prelude} && exec \"$0\" \"$@\""))
        .arg(HULL)
        .arg("--root")
        .arg(&t.root)
        .args(args)
        .stdin(std::process::Stdio::null());
    t.output(&mut cmd)
}

#[test]
fn oom_score_adj() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| c["process"]["oomScoreAdj"] = json!(500));
    assert_eq!(t.run_sh(&b, "pos", "cat /proc/self/oom_score_adj"), "500\n");
    // Unset: the caller's value passes unchanged.
    b.config(|c| {
        c["process"].as_object_mut().unwrap().remove("oomScoreAdj");
    });
    b.sh("cat /proc/self/oom_score_adj");
    let out = hull_after(
        &t,
        "echo 123 >/proc/self/oom_score_adj",
        &["run", "--bundle", b.path(), "unset"],
    )
    .ok();
    assert_eq!(out.stdout, "123\n", "{out}");
}

#[test]
fn negative_oom_score_adj_without_cap_sys_resource_fails_precisely() {
    let t = Test::new();
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let eff = u64::from_str_radix(status_field(&status, "CapEff"), 16).unwrap();
    if eff & mask(&["CAP_SYS_RESOURCE"]) != 0 {
        println!("note: this host's root has CAP_SYS_RESOURCE: skipped");
        return;
    }
    let b = t.bundle();
    b.args(&["true"])
        .config(|c| c["process"]["oomScoreAdj"] = json!(-500));
    create_fails(&t, &b, "neg", &["oomScoreAdj", "-500", "permission denied"]);
}

#[test]
fn umask_applies_to_a_non_root_user() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    b.config(|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "umask": 0o077}));
    let out = t.run_sh(
        &b,
        "um",
        "umask; touch /tmp/f; mkdir /tmp/d; stat -c '%a %u' /tmp/f /tmp/d",
    );
    assert_eq!(out, "0077\n600 1000\n700 1000\n");
}

// ---------------------------------------------------------------------------
// personality, scheduler, I/O priority, memory policy
// ---------------------------------------------------------------------------

#[test]
fn personality_linux32_and_linux() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| c["linux"]["personality"] = json!({"domain": "LINUX32"}));
    let m32 = ARCH.machine32;
    assert_eq!(
        t.run_sh(&b, "p32", "uname -m; arch"),
        format!("{m32}\n{m32}\n")
    );
    b.config(|c| c["linux"]["personality"] = json!({"domain": "LINUX"}));
    assert_eq!(
        t.run_sh(&b, "p64", "uname -m"),
        format!("{}\n", ARCH.machine)
    );
    b.config(|c| c["linux"]["personality"] = json!({"domain": "LINUX64"}));
    b.args(&["true"]);
    create_fails(&t, &b, "bad", &["linux.personality", "LINUX64"]);
}

/// Fields of a /proc/<pid>/stat text after the command name, numbered
/// as proc(5) numbers them (field 3 is the state).
fn stat_field(stat: &str, n: usize) -> &str {
    let after = &stat[stat.rfind(')').expect("stat has a comm") + 2..];
    after
        .split_whitespace()
        .nth(n - 3)
        .unwrap_or_else(|| panic!("no field {n} in {stat}"))
}

const STAT_NICE: usize = 19;
const STAT_RT_PRIORITY: usize = 40;
const STAT_POLICY: usize = 41;

/// Run `cat /proc/self/stat` under each scheduler and check (policy,
/// nice, rt_priority).
fn check_schedulers(t: &Test, b: &Bundle, cases: &[(Value, &str, &str, &str)]) {
    for (sched, policy, nice, prio) in cases {
        b.config(|c| c["process"]["scheduler"] = sched.clone());
        b.args(&["cat", "/proc/self/stat"]);
        let out = t.run(b, &format!("s{policy}"));
        assert_eq!(out.code, 0, "scheduler {sched}:\n{out}");
        let stat = out.stdout.trim();
        assert_eq!(
            (
                stat_field(stat, STAT_POLICY),
                stat_field(stat, STAT_NICE),
                stat_field(stat, STAT_RT_PRIORITY)
            ),
            (*policy, *nice, *prio),
            "scheduler {sched}: (policy, nice, rt_priority) of {stat}"
        );
    }
}

#[test]
fn scheduler_policies_nice_and_priority() {
    let t = Test::new();
    let b = t.bundle();
    check_schedulers(
        &t,
        &b,
        &[
            (json!({"policy": "SCHED_BATCH", "nice": 5}), "3", "5", "0"),
            (json!({"policy": "SCHED_IDLE"}), "5", "0", "0"),
            (json!({"policy": "SCHED_OTHER", "nice": 7}), "0", "7", "0"),
        ],
    );
}

#[test]
fn scheduler_realtime_policies() {
    let t = Test::new();
    let b = t.bundle();
    // With RT group scheduling (cgroup v1 cpu.rt_runtime_us) a realtime
    // task needs a budget in its cgroup and every parent: the engine's
    // parent gets one here, the container's comes from its config.
    let cpu = Path::new("/sys/fs/cgroup/cpu");
    if cpu.join("cpu.rt_runtime_us").exists() {
        let parent = cpu.join(t.cgroup_parent());
        fs::create_dir_all(&parent).unwrap();
        fs::write(parent.join("cpu.rt_runtime_us"), "20000").unwrap();
        b.config(|c| {
            c["linux"]["resources"] =
                json!({"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 1000000}})
        });
    }
    check_schedulers(
        &t,
        &b,
        &[
            (
                json!({"policy": "SCHED_FIFO", "priority": 10}),
                "1",
                "0",
                "10",
            ),
            (
                json!({"policy": "SCHED_RR", "priority": 20}),
                "2",
                "0",
                "20",
            ),
        ],
    );
}

#[test]
fn scheduler_deadline() {
    let t = Test::new();
    let b = t.bundle();
    // A deadline task cannot fork: the process is cat itself.
    b.config(|c| {
        c["process"]["scheduler"] = json!({"policy": "SCHED_DEADLINE",
            "runtime": 10_000_000u64, "deadline": 30_000_000u64, "period": 30_000_000u64})
    });
    b.args(&["cat", "/proc/self/stat"]);
    let out = t.run(&b, "dl");
    assert_eq!(out.code, 0, "SCHED_DEADLINE:\n{out}");
    assert_eq!(stat_field(out.stdout.trim(), STAT_POLICY), "6", "{out}");
}

#[test]
fn scheduler_flags_use_the_specs_names() {
    let t = Test::new();
    let b = t.bundle();
    // config.md: flags are SCHED_FLAG_RESET_ON_FORK, ... With reset-on-fork
    // (sched(7)) a negative nice value is not inherited: the shell runs at
    // -5, its children at 0 again.
    b.config(|c| {
        c["process"]["scheduler"] =
            json!({"policy": "SCHED_OTHER", "nice": -5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]})
    });
    b.sh("cat /proc/$$/stat; cat /proc/self/stat; true");
    let out = t.run(&b, "rof");
    assert_eq!(out.code, 0, "SCHED_FLAG_RESET_ON_FORK refused:\n{out}");
    let lines = out.lines();
    const STAT_NICE: usize = 19;
    assert_eq!(
        (
            stat_field(lines[0], STAT_NICE),
            stat_field(lines[1], STAT_NICE)
        ),
        ("-5", "0"),
        "nice of the shell and of its child:\n{out}"
    );
}

#[test]
fn scheduler_iso_is_refused() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"])
        .config(|c| c["process"]["scheduler"] = json!({"policy": "SCHED_ISO"}));
    create_fails(&t, &b, "iso", &["process.scheduler", "SCHED_ISO"]);
}

#[test]
fn io_priority_classes() {
    let t = Test::new();
    let b = t.bundle();
    for (class, prio, want) in [
        ("IOPRIO_CLASS_BE", 4, "best-effort: prio 4"),
        ("IOPRIO_CLASS_IDLE", 0, "idle"),
        ("IOPRIO_CLASS_RT", 3, "realtime: prio 3"),
    ] {
        b.config(|c| c["process"]["ioPriority"] = json!({"class": class, "priority": prio}));
        // The shell's own and that of a child: the whole process tree.
        let out = t.run_sh(&b, &format!("io{prio}"), "ionice -p $$; ionice -p $$ | cat");
        assert_eq!(out, format!("{want}\n{want}\n"), "{class} {prio}");
    }
    b.args(&["true"]).config(|c| {
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 8})
    });
    create_fails(&t, &b, "bad", &["process.ioPriority", "8"]);
}

/// The policy column of the first line of the container's
/// /proc/self/numa_maps (the task policy for mappings without their own).
fn numa_policy(t: &Test, b: &Bundle, id: &str) -> String {
    let out = t.run_sh(b, id, "head -n 1 /proc/self/numa_maps");
    out.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("numa_maps: {out:?}"))
        .to_string()
}

#[test]
fn memory_policy() {
    if !Path::new("/proc/self/numa_maps").exists() {
        println!("note: no NUMA support (/proc/self/numa_maps): skipped");
        return;
    }
    let t = Test::new();
    let b = t.bundle();
    assert_eq!(numa_policy(&t, &b, "none"), "default");
    for (policy, want) in [
        (json!({"mode": "MPOL_BIND", "nodes": "0"}), "bind:0"),
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
            "interleave:0",
        ),
        (json!({"mode": "MPOL_PREFERRED", "nodes": "0"}), "prefer:0"),
        (json!({"mode": "MPOL_LOCAL"}), "local"),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            "bind=static:0",
        ),
    ] {
        b.config(|c| c["linux"]["memoryPolicy"] = policy.clone());
        assert_eq!(numa_policy(&t, &b, "mp"), want, "{policy}");
    }
    // A node this host lacks, or a mode that needs nodes without any.
    for (policy, needle) in [
        (
            json!({"mode": "MPOL_BIND", "nodes": "63"}),
            "linux.memoryPolicy",
        ),
        (json!({"mode": "MPOL_BIND"}), "linux.memoryPolicy"),
        (
            json!({"mode": "MPOL_BIND", "nodes": "x"}),
            "linux.memoryPolicy.nodes",
        ),
    ] {
        b.args(&["true"])
            .config(|c| c["linux"]["memoryPolicy"] = policy.clone());
        create_fails(&t, &b, "bad", &[needle]);
    }
}

#[test]
fn exec_cpu_affinity_final_applies_to_exec() {
    let cpus = fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    if cpus.trim() == "0" {
        println!("note: one CPU only: skipped");
        return;
    }
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "60"]);
    t.run_detached(&b, "aff");
    let config: Value =
        serde_json::from_str(&fs::read_to_string(b.dir.join("config.json")).unwrap()).unwrap();
    let mut process = config["process"].clone();
    process["args"] = json!(["grep", "Cpus_allowed_list", "/proc/self/status"]);
    process["execCPUAffinity"] = json!({"initial": "0", "final": "1"});
    let file = t.dir.join("process.json");
    fs::write(&file, process.to_string()).unwrap();
    let out = t
        .hull(&["exec", "--process", file.to_str().unwrap(), "aff"])
        .ok();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["Cpus_allowed_list:", "1"],
        "execCPUAffinity.final of an exec'd process:\n{out}"
    );
}

// ---------------------------------------------------------------------------
// Seccomp
// ---------------------------------------------------------------------------

/// errno values used in profiles (asm-generic/errno-base.h).
const EACCES: u32 = 13;
const ENOSPC: u32 = 28;
const ENOSYS: u32 = 38;

fn seccomp(b: &Bundle, profile: Value) -> &Bundle {
    b.config(|c| c["linux"]["seccomp"] = profile)
}

/// An allow-by-default profile with these rules.
fn allow_but(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCH.seccomp,
        "syscalls": rules})
}

/// mkdir denied with ENOSPC, chmod with the action's default (EPERM).
fn mkdir_chmod_rules() -> Value {
    json!([
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSPC},
        {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO"}
    ])
}

const MKDIR_CHMOD_SCRIPT: &str = "mkdir /tmp/d; echo mkdir=$?; touch /tmp/f && echo touch=ok; \
    chmod 600 /tmp/f; echo chmod=$?; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status";

#[track_caller]
fn assert_mkdir_chmod_denied(out: &Out, nnp: bool) {
    let lines: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "mkdir=1",
            "touch=ok",
            "chmod=1",
            &format!("NoNewPrivs: {}", u8::from(nnp)),
            "Seccomp: 2"
        ],
        "{out}"
    );
    assert!(
        out.stderr
            .contains("can't create directory '/tmp/d': No space left on device"),
        "mkdir must fail with the rule's errnoRet (ENOSPC):\n{out}"
    );
    assert!(
        out.stderr.contains("Operation not permitted"),
        "chmod must fail with EPERM (SCMP_ACT_ERRNO without errnoRet):\n{out}"
    );
}

#[test]
fn seccomp_errno_rules_deny_and_the_rest_works() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    seccomp(&b, allow_but(mkdir_chmod_rules()));
    b.sh(MKDIR_CHMOD_SCRIPT);
    let out = t.run(&b, "errno").ok();
    assert_mkdir_chmod_denied(&out, true);
}

#[test]
fn seccomp_without_no_new_privileges_for_root_and_non_root() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    seccomp(&b, allow_but(mkdir_chmod_rules()));
    b.sh(MKDIR_CHMOD_SCRIPT);
    for uid in [0, 1000] {
        b.config(|c| {
            c["process"]["noNewPrivileges"] = json!(false);
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
        });
        let out = t.run(&b, &format!("u{uid}")).ok();
        assert_mkdir_chmod_denied(&out, false);
    }
}

/// hull resolves process.cwd with openat2, which older profiles lack
/// (runtime-tools' default): that must happen before the filter is loaded,
/// with or without no_new_privs.
#[test]
fn seccomp_denying_openat2_still_enters_the_cwd() {
    let t = Test::new();
    let b = t.bundle();
    seccomp(
        &b,
        allow_but(json!([{"names": ["openat2"], "action": "SCMP_ACT_ERRNO"}])),
    );
    b.config(|c| c["process"]["cwd"] = json!("/tmp"));
    b.sh("pwd");
    for nnp in [true, false] {
        b.config(|c| c["process"]["noNewPrivileges"] = json!(nnp));
        let out = t.run(&b, &format!("nnp-{nnp}")).ok();
        assert_eq!(out.stdout, "/tmp\n", "{out}");
    }
}

#[test]
fn seccomp_default_errno_ret() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    // The Docker-style profile without mkdir in its allow list, its
    // default answering ENOSPC rather than EPERM.
    let mut profile = docker_style_profile();
    profile["defaultErrnoRet"] = json!(ENOSPC);
    profile["syscalls"][0]["names"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n != "mkdir" && n != "mkdirat");
    seccomp(&b, profile);
    b.sh("mkdir /tmp/d; echo mkdir=$?; echo ok > /tmp/f; cat /tmp/f");
    let out = t.run(&b, "def").ok();
    assert_eq!(out.stdout, "mkdir=1\nok\n", "{out}");
    assert!(
        out.stderr.contains("No space left on device"),
        "defaultErrnoRet ENOSPC:\n{out}"
    );
}

#[test]
fn seccomp_argument_filter() {
    let t = Test::new();
    let b = t.bundle();
    // personality(PER_LINUX32) denied, personality(PER_LINUX) allowed.
    seccomp(
        &b,
        allow_but(
            json!([{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
            "errnoRet": EACCES, "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]),
        ),
    );
    b.sh("linux64 uname -m; linux32 uname -m; echo linux32=$?");
    let out = t.run(&b, "args").ok();
    assert_eq!(
        out.stdout,
        format!("{}\nlinux32=1\n", ARCH.machine),
        "{out}"
    );
    assert!(out.stderr.contains("Permission denied"), "{out}");
    // Three args ANDed: socket(AF_NETLINK, SOCK_RAW (any flags),
    // NETLINK_ROUTE) denied; socket(AF_INET, SOCK_STREAM, 0) matches only
    // the last check, so it passes (and nc fails later, on connect).
    seccomp(
        &b,
        allow_but(json!([{"names": ["socket"], "action": "SCMP_ACT_ERRNO",
            "errnoRet": EACCES, "args": [
                {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 15, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]}])),
    );
    b.sh("ip link; echo ip=$?; nc 127.0.0.1 9 </dev/null; echo nc=$?");
    let out = t.run(&b, "and").ok();
    assert_eq!(out.stdout, "ip=2\nnc=1\n", "{out}");
    assert!(
        out.stderr.contains("ip: socket: Permission denied")
            && out.stderr.contains("Network is unreachable"),
        "netlink socket denied, inet socket allowed:\n{out}"
    );
}

#[test]
fn seccomp_kill_trap_and_log_actions() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    // KILL_PROCESS on the container's process itself: killed by SIGSYS.
    seccomp(
        &b,
        allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}])),
    );
    b.args(&["mkdir", "/tmp/d"]);
    let out = t.run(&b, "killp");
    assert_eq!(out.code, 128 + 31, "SIGSYS expected:\n{out}");
    // The others in a child of the shell, which reports how it died.
    for (action, want) in [
        ("SCMP_ACT_KILL", "rc=159"),
        ("SCMP_ACT_KILL_THREAD", "rc=159"),
        ("SCMP_ACT_KILL_PROCESS", "rc=159"),
        ("SCMP_ACT_TRAP", "rc=159"),
        ("SCMP_ACT_LOG", "rc=0"),
    ] {
        seccomp(
            &b,
            allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": action}])),
        );
        b.sh("mkdir /tmp/d; echo rc=$?");
        let out = t.run(&b, "act").ok();
        assert_eq!(out.stdout.trim(), want, "{action}:\n{out}");
    }
}

/// startContainer hooks run under the container's filter also when it
/// loads last, right before execve (noNewPrivileges), as in runc (bats:
/// seccomp "startContainer hook"); a hook it kills names the signal. The
/// filter is loaded once: a profile that forbids seccomp(2) itself still
/// starts the program after the hooks.
#[test]
fn seccomp_applies_to_start_container_hooks() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    let kill = json!([{"names": ["mkdir", "mkdirat", "seccomp"], "action": "SCMP_ACT_KILL"}]);
    seccomp(&b, allow_but(kill));
    b.args(&["true"]);
    let hook = |path: &str, args: &[&str]| {
        b.config(|c| {
            assert_eq!(c["process"]["noNewPrivileges"], true);
            c["hooks"] = json!({"startContainer": [{"path": path, "args": args}]});
        });
    };
    hook("/bin/mkdir", &["mkdir", "/tmp/d"]);
    t.create(&b, "schook").ok();
    t.start("schook").fails_with(
        "hooks.startContainer[0]: error running hook /bin/mkdir: killed by SIGSYS (bad system call)",
    );
    t.wait_status("schook", "stopped");
    t.delete("schook").ok();

    hook("/bin/true", &["true"]);
    b.args(&["echo", "ran"]);
    let out = t.run(&b, "schook2").ok();
    assert_eq!(out.stdout, "ran\n", "loaded twice? {out}");
}

#[test]
fn seccomp_flags_are_accepted() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    let mut profile = allow_but(mkdir_chmod_rules());
    profile["flags"] = json!([
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_TSYNC"
    ]);
    seccomp(&b, profile);
    b.sh(MKDIR_CHMOD_SCRIPT);
    let out = t.run(&b, "flags").ok();
    assert_mkdir_chmod_denied(&out, true);
}

#[test]
fn seccomp_unknown_syscall_names_are_skipped() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    let mut rules = mkdir_chmod_rules();
    rules.as_array_mut().unwrap().push(
        json!({"names": ["no_such_syscall", "s390_runtime_instr"], "action": "SCMP_ACT_ERRNO"}),
    );
    seccomp(&b, allow_but(rules));
    b.sh(MKDIR_CHMOD_SCRIPT);
    let out = t.run(&b, "unknown").ok();
    assert_mkdir_chmod_denied(&out, true);
}

#[test]
fn seccomp_invalid_profiles_are_errors_naming_the_field() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]);
    for (profile, needles) in [
        (
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}])),
            vec!["linux.seccomp", "SCMP_ACT_BOGUS"],
        ),
        (
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}])),
            vec!["seccomp", "errnoRet"],
        ),
        (
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}])),
            vec!["seccomp", "index 6"],
        ),
    ] {
        seccomp(&b, profile);
        create_fails(&t, &b, "bad", &needles);
    }
}

#[test]
fn seccomp_notify_without_a_listener_is_an_error_naming_it() {
    let t = Test::new();
    let b = t.bundle();
    let mut profile = allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]));
    profile["listenerPath"] = json!(t.dir.join("listener.sock"));
    seccomp(&b, profile);
    b.args(&["true"]);
    let sock = t.dir.join("listener.sock");
    let want = format!(
        "linux.seccomp.listenerPath: failed to connect with seccomp agent at {}: \
         no such file or directory",
        sock.display()
    );
    create_fails(&t, &b, "notify", &[&want]);
}

#[test]
fn seccomp_notify_hands_the_listener_to_the_agent() {
    use nix::libc;
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::net::UnixListener;

    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    let sock = t.dir.join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut profile =
        allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]));
    profile["listenerPath"] = json!(sock);
    profile["listenerMetadata"] = json!("hull-test-meta");
    seccomp(&b, profile);
    b.sh("mkdir /tmp/d; echo mkdir=$?; mkdir /tmp/e; echo mkdir=$?; ls /tmp");

    // The agent: answers the first notified syscall with ENOSPC and lets
    // the second one run. Returns the message and the syscall numbers.
    let agent = std::thread::spawn(move || -> Result<(Value, Vec<i32>), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => return Err(format!("no connection from hull: {e}")),
            }
        };
        stream.set_nonblocking(false).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("recvmsg: {e}"))?;
        let len = msg.bytes;
        let mut fd = None;
        for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: the kernel installed these fds for us.
                fd = fds.first().map(|raw| unsafe { OwnedFd::from_raw_fd(*raw) });
            }
        }
        let fd = fd.ok_or("no fd in the message")?;
        let state: Value = serde_json::from_slice(&buf[..len]).map_err(|e| {
            format!(
                "message is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&buf[..len])
            )
        })?;
        let mut nrs = Vec::new();
        loop {
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, 10_000) };
            if n <= 0 || pfd.revents & libc::POLLIN == 0 {
                break; // timeout, or every process of the filter is gone
            }
            // SAFETY: zeroed plain-data structs, as the ioctls want them.
            let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            // SAFETY: the ioctl writes one seccomp_notif.
            if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0
            {
                break;
            }
            nrs.push(req.data.nr);
            // SAFETY: as above.
            let mut resp: libc::seccomp_notif_resp = unsafe { std::mem::zeroed() };
            resp.id = req.id;
            if nrs.len() == 1 {
                resp.error = -libc::ENOSPC;
            } else {
                resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
            }
            // SAFETY: `resp` is the struct this ioctl reads.
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
        }
        Ok((state, nrs))
    });
    let out = t.run(&b, "notify");
    let (msg, nrs) = agent
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("agent: {e}\n{out}"));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "mkdir=1\nmkdir=0\ne\n", "{out}");
    assert!(out.stderr.contains("No space left on device"), "{out}");
    assert_eq!(nrs.len(), 2, "notified syscalls {nrs:?}");
    assert_eq!(msg["fds"], json!(["seccompFd"]), "{msg}");
    assert_eq!(msg["metadata"], json!("hull-test-meta"), "{msg}");
    assert!(msg["pid"].as_i64().is_some_and(|p| p > 0), "{msg}");
    assert_eq!(msg["state"]["id"], json!("notify"), "{msg}");
    assert!(msg["ociVersion"].is_string(), "{msg}");
}

fn docker_style_profile() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("integration/seccomp_profiles/docker_style.json");
    serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
}

/// Normal busybox work, then unshare and mount: (stdout, stderr).
const BUSYBOX_WORK: &str = "echo hello; ls / | grep -c bin; sh -c 'echo nested'; \
    echo a b c | wc -w; linux32 uname -m; cat /proc/self/status | grep '^Seccomp:'; \
    unshare -m true; echo unshare=$?; mount -t tmpfs tmpfs /mnt; echo mount=$?";

/// What BUSYBOX_WORK prints when busybox works normally and unshare and
/// mount are denied.
const BUSYBOX_WORK_OUT: [&str; 8] = [
    "hello",
    "1",
    "nested",
    "3",
    ARCH.machine32,
    "Seccomp: 2",
    "unshare=1",
    "mount=1",
];

/// Each line with its whitespace folded.
fn words(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn docker_style_profile_denies_unshare_and_mount() {
    let t = Test::new();
    let b = t.bundle();
    // With CAP_SYS_ADMIN, so that only the filter can deny unshare and mount.
    let caps = [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_ADMIN",
    ];
    b.config(|c| {
        c["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps})
    });
    b.sh(BUSYBOX_WORK);
    let plain = t.run(&b, "plain").ok();
    assert!(
        plain.stdout.contains("unshare=0\n") && plain.stdout.contains("mount=0\n"),
        "without a filter CAP_SYS_ADMIN allows both:\n{plain}"
    );
    seccomp(&b, docker_style_profile());
    for (uid, nnp) in [(0, true), (0, false)] {
        b.config(|c| {
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
            c["process"]["noNewPrivileges"] = json!(nnp);
        });
        let out = t.run(&b, &format!("docker{nnp}")).ok();
        assert_eq!(
            words(&out.stdout),
            BUSYBOX_WORK_OUT,
            "noNewPrivileges {nnp}:\n{out}"
        );
        // busybox words mount's EPERM as "permission denied (are you root?)".
        assert!(
            out.stderr
                .contains("unshare(0x20000): Operation not permitted")
                && out.stderr.contains("mount: permission denied"),
            "unshare and mount fail with EPERM:\n{out}"
        );
    }
}

#[test]
fn docker_style_profile_for_a_non_root_user_without_no_new_privileges() {
    let t = Test::new();
    let b = t.bundle();
    seccomp(&b, docker_style_profile());
    b.config(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10]});
        c["process"]["noNewPrivileges"] = json!(false);
    });
    let out = t.run_sh(
        &b,
        "user",
        "id -u; echo ok | cat; ls /bin | grep -c busybox",
    );
    assert_eq!(out, "1000\nok\n1\n");
}

/// podman's file is in the engines' format (archMap, includes/excludes by
/// capability, architecture and kernel): resolve it the way an engine
/// writes it into config.json, for this host's architecture and these
/// capabilities.
fn engine_to_oci(engine: &Value, caps: &[&str]) -> Value {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let kernel = kernel_version();
    let applies = |rule: &Value| {
        let (inc, exc) = (&rule["includes"], &rule["excludes"]);
        let has = |c: &String| caps.contains(&c.as_str());
        let native = |a: &String| a == ARCH.goarch || a == ARCH.machine;
        let min_ok = inc["minKernel"]
            .as_str()
            .is_none_or(|m| parse_version(m) <= kernel);
        strings(&inc["caps"]).iter().all(has)
            && (inc["arches"].is_null() || strings(&inc["arches"]).iter().any(native))
            && min_ok
            && !strings(&exc["caps"]).iter().any(has)
            && !strings(&exc["arches"]).iter().any(native)
    };
    let syscalls: Vec<Value> = engine["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| applies(r))
        .map(|r| {
            let mut rule = json!({"names": r["names"], "action": r["action"]});
            if let Some(args) = r["args"].as_array().filter(|a| !a.is_empty()) {
                rule["args"] = json!(args);
            }
            if !r["errnoRet"].is_null() {
                rule["errnoRet"] = r["errnoRet"].clone();
            }
            rule
        })
        .collect();
    let arch = engine["archMap"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["architecture"] == ARCH.seccomp[0])
        .unwrap();
    let mut architectures = vec![arch["architecture"].clone()];
    architectures.extend(
        strings(&arch["subArchitectures"])
            .into_iter()
            .map(Value::from),
    );
    let mut profile = json!({"defaultAction": engine["defaultAction"],
        "architectures": architectures, "syscalls": syscalls});
    if !engine["defaultErrnoRet"].is_null() {
        profile["defaultErrnoRet"] = engine["defaultErrnoRet"].clone();
    }
    profile
}

fn parse_version(v: &str) -> (u32, u32) {
    let mut parts = v.split(['.', '-']).map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn kernel_version() -> (u32, u32) {
    parse_version(
        fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
    )
}

const PODMAN_PROFILE: &str = "/usr/share/containers/seccomp.json";

fn podman_profile() -> Option<Value> {
    let Ok(text) = fs::read_to_string(PODMAN_PROFILE) else {
        println!(
            "note: {PODMAN_PROFILE} is missing (Debian package golang-github-containers-common): skipped"
        );
        return None;
    };
    Some(serde_json::from_str(&text).expect("podman's profile is JSON"))
}

#[test]
fn podman_default_profile_runs_busybox_and_denies() {
    let Some(engine) = podman_profile() else {
        return;
    };
    let t = Test::new();
    let b = t.bundle();
    // podman's default capabilities: unshare and mount are allowed by its
    // profile but denied for lack of CAP_SYS_ADMIN.
    let caps = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ];
    b.config(|c| {
        c["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps})
    });
    seccomp(&b, engine_to_oci(&engine, &caps));
    for nnp in [true, false] {
        b.config(|c| c["process"]["noNewPrivileges"] = json!(nnp));
        b.sh(BUSYBOX_WORK);
        let out = t.run(&b, &format!("podman{nnp}")).ok();
        assert_eq!(
            words(&out.stdout),
            BUSYBOX_WORK_OUT,
            "noNewPrivileges {nnp}:\n{out}"
        );
        // swapon is denied by the profile itself (errnoRet 1), whatever
        // the capabilities; without the filter the kernel would refuse a
        // non-swap file with EINVAL, or EPERM without CAP_SYS_ADMIN.
        b.sh("swapon /etc/passwd; echo swapon=$?");
        let out = t.run(&b, "swapon").ok();
        assert_eq!(out.stdout, "swapon=1\n", "{out}");
        assert!(out.stderr.contains("Operation not permitted"), "{out}");
    }
}

#[test]
fn podman_default_profile_denies_where_capabilities_would_allow() {
    let Some(engine) = podman_profile() else {
        return;
    };
    let t = Test::new();
    let b = t.bundle();
    // The container holds CAP_SYS_ADMIN, the profile is resolved for
    // podman's defaults: swapon (always denied by podman) shows EPERM
    // from the filter instead of the kernel's EINVAL.
    let caps = ["CAP_KILL", "CAP_SYS_ADMIN"];
    b.config(|c| {
        c["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps})
    });
    writable_tmp(&b);
    b.sh("touch /tmp/swap; swapon /tmp/swap; echo swapon=$?");
    let plain = t.run(&b, "plain").ok();
    assert!(
        plain.stderr.contains("Invalid argument"),
        "without the filter the kernel answers EINVAL:\n{plain}"
    );
    seccomp(&b, engine_to_oci(&engine, &["CAP_KILL"]));
    let out = t.run(&b, "podman").ok();
    assert_eq!(out.stdout, "swapon=1\n", "{out}");
    assert!(
        out.stderr.contains("Operation not permitted"),
        "podman's rule: EPERM:\n{out}"
    );
    // Syscalls podman does not list get its defaultErrnoRet, ENOSYS: a
    // profile without `mkdir` and `mkdirat` (aarch64 has only the latter)
    // makes busybox's mkdir fail that way.
    let mut profile = engine_to_oci(&engine, &["CAP_KILL"]);
    for rule in profile["syscalls"].as_array_mut().unwrap() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "mkdir" && n != "mkdirat");
        }
    }
    seccomp(&b, profile);
    b.sh("mkdir /tmp/x; echo mkdir=$?");
    let out = t.run(&b, "nomkdir").ok();
    assert_eq!(out.stdout, "mkdir=1\n", "{out}");
    assert!(
        out.stderr.contains("Function not implemented"),
        "defaultErrnoRet {ENOSYS}:\n{out}"
    );
}

#[test]
fn exec_gets_the_containers_security_settings() {
    let t = Test::new();
    let b = t.bundle();
    writable_tmp(&b);
    seccomp(&b, allow_but(mkdir_chmod_rules()));
    b.config(|c| {
        c["process"]["capabilities"] = CAPS.json();
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000}]);
    });
    b.args(&["sleep", "60"]);
    t.run_detached(&b, "x");
    let status = t
        .hull(&["exec", "x", "cat", "/proc/self/status"])
        .ok()
        .stdout;
    assert_eq!(
        hex_sets(&cap_sets(&status)),
        hex_sets(&CAPS.after_exec(true, true)),
        "exec as root:\n{status}"
    );
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    assert_eq!(status_field(&status, "Seccomp"), "2");
    let status = t
        .hull(&[
            "exec",
            "--user",
            "1000:1000",
            "x",
            "cat",
            "/proc/self/status",
        ])
        .ok()
        .stdout;
    assert_eq!(
        hex_sets(&cap_sets(&status)),
        hex_sets(&CAPS.after_exec(false, true)),
        "exec as uid 1000:\n{status}"
    );
    let out = t.hull(&["exec", "x", "sh", "-c", MKDIR_CHMOD_SCRIPT]).ok();
    assert_mkdir_chmod_denied(&out, true);
    let out = t
        .hull(&["exec", "x", "sh", "-c", "ulimit -n; ulimit -Hn"])
        .ok();
    assert_eq!(out.stdout, "1000\n2000\n", "{out}");
    // LSM labels asked of exec on a host without the LSM.
    if !Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        let out = t.hull(&["exec", "--apparmor", "hull-test", "x", "true"]);
        out.fails_with("apparmor");
    }
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        let out = t.hull(&[
            "exec",
            "--process-label",
            "system_u:system_r:container_t:s0",
            "x",
            "true",
        ]);
        out.fails_with("selinux");
    }
}

// ---------------------------------------------------------------------------
// AppArmor and SELinux on a host without them
// ---------------------------------------------------------------------------

#[test]
fn lsm_labels_fail_when_the_lsm_is_not_enabled() {
    let apparmor = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'));
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]);
    type Edit = fn(&mut Value);
    let cases: [(&str, bool, Edit); 3] = [
        ("process.apparmorProfile", apparmor, |c| {
            c["process"]["apparmorProfile"] = json!("hull-test-profile")
        }),
        ("process.selinuxLabel", selinux, |c| {
            c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0:c1,c2")
        }),
        ("linux.mountLabel", selinux, |c| {
            c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0:c1,c2")
        }),
    ];
    for (field, enabled, edit) in cases {
        if enabled {
            println!("note: the LSM for {field} is enabled on this host: skipped");
            continue;
        }
        let clean = t.bundle();
        clean.args(&["true"]).config(edit);
        create_fails(&t, &clean, "lsm", &[field]);
    }
    // Empty labels mean none.
    b.config(|c| {
        c["process"]["apparmorProfile"] = json!("");
        c["process"]["selinuxLabel"] = json!("");
        c["linux"]["mountLabel"] = json!("");
    });
    t.run(&b, "empty").ok();
}

/// An AppArmor profile loaded for the test, removed when dropped.
struct LoadedProfile {
    name: String,
    file: PathBuf,
}

impl LoadedProfile {
    /// Everything allowed but reading /etc: a container under it can run
    /// busybox yet not read /etc/passwd.
    fn load(t: &Test) -> LoadedProfile {
        let name = format!("hull-itest-{}", std::process::id());
        let file = t.dir.join("apparmor-profile");
        let text = format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  \
             capability,\n  network,\n  signal,\n  unix,\n  ptrace,\n  deny /etc/** r,\n}}\n"
        );
        fs::write(&file, text).unwrap();
        let out = Command::new("apparmor_parser")
            .arg("--replace")
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "apparmor_parser: {out:?}");
        LoadedProfile { name, file }
    }
}

impl Drop for LoadedProfile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser")
            .arg("--remove")
            .arg(&self.file)
            .output();
    }
}

/// process.apparmorProfile and `exec --apparmor` put the process under
/// the profile, enforced: it shows in /proc/self/attr/current and what the
/// profile denies fails. Where AppArmor is off, the refusal is tested by
/// lsm_labels_fail_when_the_lsm_is_not_enabled.
#[test]
fn apparmor_profile_is_enforced_for_the_init_and_exec() {
    let enabled = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'));
    let parser = Command::new("apparmor_parser").arg("--version").output();
    if !enabled || !parser.is_ok_and(|o| o.status.success()) {
        eprintln!("note: AppArmor is not enabled here, or apparmor_parser is missing: skipped");
        return;
    }
    let t = Test::new();
    let profile = LoadedProfile::load(&t);
    let script =
        "cat /proc/self/attr/current; cat /etc/passwd >/dev/null 2>&1 && echo read || echo denied";
    let want = format!("{} (enforce)\ndenied\n", profile.name);
    let b = t.bundle();
    b.config(|c| c["process"]["apparmorProfile"] = json!(profile.name));
    assert_eq!(t.run_sh(&b, "aa", script), want);
    // A container without a profile: its exec'd process gets one.
    let plain = t.bundle();
    plain.args(&["sleep", "1000"]);
    t.run_detached(&plain, "aaexec");
    let out = t
        .hull(&[
            "exec",
            "--apparmor",
            &profile.name,
            "aaexec",
            "sh",
            "-c",
            script,
        ])
        .ok();
    assert_eq!(out.stdout, want);
    let unconfined = t
        .hull(&["exec", "aaexec", "cat", "/proc/self/attr/current"])
        .ok();
    assert_ne!(
        unconfined.stdout,
        want.lines().next().unwrap().to_string() + "\n"
    );
    t.hull(&["delete", "--force", "aaexec"]).ok();
}

// ---------------------------------------------------------------------------
// Escape lessons
// ---------------------------------------------------------------------------

/// A host directory holding a file only the host should ever see.
fn host_secret(t: &Test) -> PathBuf {
    let d = t.host_dir("host-secret");
    fs::write(d.join("HOST_SECRET"), "secret\n").unwrap();
    d
}

#[test]
fn no_host_fd_or_cwd_reaches_the_container() {
    // CVE-2024-21626: fds of hull's caller (a host directory among them)
    // and hull's own cwd must not pass into the container.
    let t = Test::new();
    let secret = host_secret(&t);
    let b = t.bundle();
    b.config(|c| c["process"]["cwd"] = json!("/tmp"));
    b.sh("ls -l /proc/self/fd; echo cwd=$(readlink /proc/self/cwd); pwd -P; ls");
    let mut cmd = t.command(&["run", "--bundle", b.path(), "fds"]);
    cmd.current_dir(&secret);
    pass_fds(
        &mut cmd,
        vec![
            (File::open(secret.join("HOST_SECRET")).unwrap(), 7),
            (File::open(&secret).unwrap(), 9),
        ],
    );
    let out = t.output(&mut cmd).ok();
    let fds: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .filter(|(_, target)| !target.starts_with("/proc/"))
        .filter_map(|(left, _)| left.split_whitespace().last())
        .collect();
    assert_eq!(fds, ["0", "1", "2"], "fds in the container:\n{out}");
    assert!(out.stdout.contains("cwd=/tmp\n/tmp\n"), "{out}");
    assert!(!out.stdout.contains("HOST_SECRET"), "{out}");
}

/// Paths under `dir` (recursively) whose file name is `name`.
fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_name() == name {
            found.push(p.clone());
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(find_named(&p, name));
        }
    }
    found
}

#[test]
fn cwd_through_proc_self_fd_cannot_leave_the_rootfs() {
    // CVE-2024-21626's attack: process.cwd (or exec --cwd) "/proc/self/fd/N"
    // names an fd the process still holds while it chdirs (hull's own or
    // its caller's): its cwd, and any directory hull creates for it, would
    // be on the host.
    let t = Test::new();
    let secret = host_secret(&t);
    // The exec target, in a cgroup of its own (runs delete theirs).
    let v = t.bundle();
    v.args(&["sleep", "1000"]);
    t.run_detached(&v, "victim");
    let b = t.bundle();
    let script = "pwd -P 2>&1; ls -a 2>&1; ls -a .. 2>&1";
    b.sh(script);
    let fds = || {
        vec![
            (File::open(secret.join("HOST_SECRET")).unwrap(), 7),
            (File::open(&secret).unwrap(), 9),
        ]
    };
    let mut escapes = Vec::new();
    for n in 3..=10 {
        for cwd in [
            format!("/proc/self/fd/{n}"),
            format!("/proc/self/fd/{n}/.."),
            format!("/proc/self/fd/{n}/hull-made-this"),
        ] {
            b.config(|c| c["process"]["cwd"] = json!(cwd));
            let id = format!("fd{n}");
            let mut run = t.command(&["run", "--bundle", b.path(), &id]);
            let mut exec = t.command(&["exec", "--cwd", &cwd, "victim", "sh", "-c", script]);
            for (how, cmd) in [("run", &mut run), ("exec", &mut exec)] {
                pass_fds(cmd, fds());
                let out = t.output(cmd);
                if out.code != 0 {
                    // Refusing is fine, but it must say why.
                    assert!(
                        out.stderr.contains("cwd"),
                        "{how} with cwd {cwd}: failed without naming the cwd:\n{out}"
                    );
                    continue;
                }
                let first = out.lines().first().copied().unwrap_or_default();
                let outside = !first.starts_with('/')
                    || out.stdout.contains("HOST_SECRET")
                    || out.stdout.contains("hull-itest")
                    || out.stdout.contains("(unreachable)");
                if outside {
                    escapes.push(format!("{how} with cwd {cwd}:\n{out}"));
                }
            }
        }
    }
    let made = find_named(&t.dir, "hull-made-this");
    assert!(
        escapes.is_empty() && made.is_empty(),
        "the container's cwd is outside its rootfs:\n{}\ndirectories created on the host: {made:?}",
        escapes.join("\n")
    );
}

/// The report a container attacker script left in the shared dir.
fn read_report(dir: &Path) -> String {
    fs::read_to_string(dir.join("report")).unwrap_or_default()
}

/// Shell functions for the CVE-2019-5736 attacker: `grab PATH` keeps PATH
/// open for reading in a background `sleep` (a failed redirection there
/// cannot end the script) and sets $h to its pid; `pwn` reopens that fd
/// for writing once the binary no longer runs, as the exploit does.
const ATTACKER_FUNCS: &str = r#"
r=$S/report
grab() { sleep 100 3<"$1" 2>/dev/null & h=$!; usleep 20000; [ -e /proc/$h/fd/3 ] || { kill $h 2>/dev/null; h=; return 1; }; }
pwn() {
  echo "opened: $(readlink /proc/$h/fd/3)" >>$r
  j=0
  while [ $j -lt 100 ]; do
    if (echo PWNED >/proc/$h/fd/3) 2>/dev/null; then echo WROTE >>$r; return; fi
    j=$((j+1)); usleep 50000
  done
  (echo PWNED >/proc/$h/fd/3) >>$r 2>&1; echo "write failed" >>$r
}
"#;

/// What both /proc/self/exe attacks start from: a hull copy to attack and
/// its bytes, a shared dir with a fifo, and the victim's bundle A (its own
/// rootfs, the host's libraries, the shared dir at /shared).
struct Exe {
    copy: PathBuf,
    original: Vec<u8>,
    shared: PathBuf,
    a: Bundle,
}

fn exe_attack_setup(t: &Test) -> Exe {
    let copy = hull_copy(t);
    let original = fs::read(&copy).unwrap();
    let shared = t.host_dir("shared");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    mkfifo(&shared.join("fifo"));
    let a = t.bundle_own_rootfs();
    bind_host_libs(&a);
    a.bind(&shared, "/shared", &[]);
    Exe {
        copy,
        original,
        shared,
        a,
    }
}

#[test]
fn proc_self_exe_of_a_created_container_cannot_be_written() {
    // CVE-2019-5736 at create: the init waits in `created` running the
    // hull binary (non-dumpable: /proc/<pid>/exe must not open), then its
    // process is /proc/self/exe itself (a malicious image's entrypoint),
    // which runs hull inside the container, blocked on a fifo while a
    // second container tries to grab the binary and write it once free.
    let t = Test::new();
    let Exe {
        copy,
        original,
        shared,
        a,
    } = exe_attack_setup(&t);
    a.args(&["/proc/self/exe", "--log", "/shared/fifo", "state", "nope"]);
    let created = t.output(&mut command_of(
        &t,
        &copy,
        &["create", "--bundle", a.path(), "a"],
    ));
    assert_eq!(created.code, 0, "{created}");
    let apid = t.state("a")["pid"].as_i64().unwrap();

    // The attacker shares the host's pid namespace, so it outlives A.
    let b = t.bundle();
    b.without_namespace("pid").bind(&shared, "/mnt", &[]);
    b.env(&[&format!("APID={apid}"), "S=/mnt"]);
    let script = format!(
        r#"{ATTACKER_FUNCS}
p=/proc/$APID/exe
if (: <"$p") 2>>$r; then echo "created: open ok" >>$r; else echo "created: open refused" >>$r; fi
touch $S/b-ready
i=0
while [ $i -lt 150 ] && ! grab "$p"; do i=$((i+1)); done
timeout 3 cat $S/fifo >/dev/null
if [ -n "$h" ]; then pwn; kill $h; else echo "never opened" >>$r; fi
touch $S/b-done
"#
    );
    b.sh(&script);
    t.run_detached(&b, "b");
    wait_file(&shared.join("b-ready"), WAIT);
    let started = t.output(&mut command_of(&t, &copy, &["start", "a"]));
    assert_eq!(started.code, 0, "{started}");
    let done = eventually(Duration::from_secs(30), || shared.join("b-done").exists());
    let report = read_report(&shared);
    assert!(done, "the attacker did not finish:\n{report}");
    println!("attacker's report:\n{report}");
    assert!(
        report.contains("created: open refused") && report.contains("Permission denied"),
        "/proc/<pid>/exe of a created init must not open (non-dumpable):\n{report}"
    );
    assert!(
        fs::read(&copy).unwrap() == original && !report.contains("WROTE"),
        "the container overwrote the hull binary through /proc/<pid>/exe:\n{report}"
    );
}

#[test]
fn proc_self_exe_during_exec_cannot_be_written() {
    // CVE-2019-5736 through `hull exec`: the exec'd process is
    // /proc/self/exe, and the container's init tries to grab it.
    let t = Test::new();
    let Exe {
        copy,
        original,
        shared,
        a,
    } = exe_attack_setup(&t);
    a.env(&["S=/shared"]);
    let script = format!(
        r#"{ATTACKER_FUNCS}
touch $S/a-ready
i=0; h=
while [ $i -lt 300 ] && [ -z "$h" ]; do
  for p in /proc/[0-9]*; do
    case $p in /proc/1|/proc/$$) continue;; esac
    x=$(readlink $p/exe 2>/dev/null) || continue
    case "$x" in ""|/bin/busybox) continue;; esac
    grab "$p/exe" && break
  done
  i=$((i+1)); usleep 10000
done
timeout 3 cat $S/fifo >/dev/null
if [ -n "$h" ]; then pwn; kill $h; else echo "never opened" >>$r; fi
touch $S/a-done
sleep 100
"#
    );
    a.sh(&script);
    t.run_detached(&a, "a");
    wait_file(&shared.join("a-ready"), WAIT);
    let exec = t.output(&mut command_of(
        &t,
        &copy,
        &[
            "exec",
            "a",
            "/proc/self/exe",
            "--log",
            "/shared/fifo",
            "state",
            "nope",
        ],
    ));
    let done = eventually(Duration::from_secs(30), || shared.join("a-done").exists());
    let report = read_report(&shared);
    assert!(done, "the attacker did not finish:\n{report}\nexec: {exec}");
    println!("attacker's report:\n{report}\nexec: {exec}");
    assert!(
        fs::read(&copy).unwrap() == original && !report.contains("WROTE"),
        "the container overwrote the hull binary through /proc/<pid>/exe \
         of an exec'd process:\n{report}\nexec: {exec}"
    );
}

#[test]
fn mount_cwd_and_device_paths_stay_in_the_rootfs() {
    // Symlinks to absolute host paths and `..` chains in mount
    // destinations, process.cwd and linux.devices paths resolve inside
    // the rootfs: nothing appears in (or is mounted on) the host dir.
    let t = Test::new();
    let victim = t.host_dir("victim");
    fs::write(victim.join("victim-file"), "v\n").unwrap();
    let vabs = victim.to_str().unwrap().to_string();
    let dots = "/..".repeat(12);
    for (i, (what, edit)) in [
        ("mount destination through an absolute symlink", 0),
        ("mount destination through a .. chain", 1),
        ("cwd through an absolute symlink", 2),
        ("cwd through a .. chain", 3),
        ("device path through an absolute symlink", 4),
        ("device path through a .. chain", 5),
    ]
    .into_iter()
    .enumerate()
    {
        let b = t.bundle_own_rootfs();
        std::os::unix::fs::symlink(&vabs, b.rootfs.join("escape")).unwrap();
        std::os::unix::fs::symlink(format!("..{dots}{vabs}"), b.rootfs.join("mnt/up")).unwrap();
        let tmpfs = |dst: String| json!({"destination": dst, "type": "tmpfs", "source": "tmpfs"});
        let device = |path: String| json!({"path": path, "type": "c", "major": 1, "minor": 3});
        b.sh("cat /proc/self/mountinfo; pwd -P; ls -a");
        match edit {
            0 => b.mount(tmpfs("/escape/sub".into())),
            1 => b.mount(tmpfs(format!("{dots}{vabs}/sub2"))),
            2 => b.config(|c| c["process"]["cwd"] = json!("/escape/cwd")),
            3 => b.config(|c| c["process"]["cwd"] = json!("/mnt/up/cwd2")),
            4 => b.config(|c| c["linux"]["devices"] = json!([device("/escape/null".into())])),
            _ => b.config(|c| {
                c["linux"]["devices"] = json!([device(format!("/dev{dots}{vabs}/null2"))])
            }),
        };
        let out = t.run(&b, &format!("e{i}"));
        let entries: Vec<String> = fs::read_dir(&victim)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            entries,
            ["victim-file"],
            "{what}: the host dir was changed:\n{out}"
        );
        assert!(
            mounts_naming(&vabs).is_empty(),
            "{what}: mounted on the host dir"
        );
        if out.code == 0 {
            let cwd = out
                .lines()
                .iter()
                .rev()
                .find(|l| l.starts_with('/'))
                .copied();
            assert!(
                !out.stdout.contains("victim-file"),
                "{what}: the container sees the host dir:\n{out}"
            );
            if edit == 2 || edit == 3 {
                assert!(
                    cwd.is_some_and(|c| c.ends_with("cwd") || c.ends_with("cwd2")),
                    "{what}: cwd {cwd:?}:\n{out}"
                );
            }
        }
    }
}

#[test]
fn mount_destination_swap_race_stays_in_the_rootfs() {
    // CVE-2021-30465: a first container flips a path of a shared volume
    // between a directory and a symlink to a host dir while a second
    // container mounts (and creates a device) through that path.
    let t = Test::new();
    let vol = t.host_dir("vol");
    fs::set_permissions(&vol, fs::Permissions::from_mode(0o777)).unwrap();
    let victim = t.host_dir("victim");
    fs::write(victim.join("victim-file"), "v\n").unwrap();
    let vabs = victim.to_str().unwrap();

    let a = t.bundle();
    a.bind(&vol, "/mnt", &[]);
    a.sh(&format!(
        "cd /mnt; while [ ! -e stop ]; do rm -rf x; mkdir x; rm -rf x; ln -s {vabs} x; done"
    ));
    t.run_detached(&a, "flipper");

    let b = t.bundle_own_rootfs();
    b.bind(&vol, "/vol", &[]);
    b.mount(json!({"destination": "/vol/x/sub", "type": "tmpfs", "source": "tmpfs"}));
    b.config(|c| {
        c["linux"]["devices"] =
            json!([{"path": "/vol/x/null", "type": "c", "major": 1, "minor": 3}])
    });
    b.args(&["true"]);
    let (mut ok, mut failed) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 0..60 {
        if Instant::now() > deadline {
            break;
        }
        let out = t.run(&b, &format!("m{i}"));
        if out.code == 0 {
            ok += 1;
        } else {
            failed += 1;
        }
        let entries: Vec<String> = fs::read_dir(&victim)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            entries,
            ["victim-file"],
            "run {i}: the host dir was changed through the swapped symlink:\n{out}"
        );
        assert!(
            mounts_naming(vabs).is_empty(),
            "run {i}: host dir mounted on"
        );
    }
    fs::write(vol.join("stop"), "").unwrap();
    println!("swap race: {ok} runs succeeded, {failed} failed, host dir untouched");
}

#[test]
fn masked_and_readonly_paths_cannot_be_undone() {
    let t = Test::new();
    let b = t.bundle();
    // runc's default capabilities: no CAP_SYS_ADMIN.
    b.sh("umount /proc/keys; echo umount-keys=$?; \
         umount -l /proc/acpi; echo umount-acpi=$?; \
         umount /proc/sys; echo umount-sys=$?; \
         mount -o remount,rw /proc/sys; echo remount-sys=$?; \
         mount -o remount,bind,rw /proc/sys; echo remount-bind-sys=$?; \
         mount -t proc proc /mnt; echo mount-proc=$?; \
         echo evil > /proc/sys/kernel/hostname; echo write-sys=$?; \
         echo keys=$(wc -c < /proc/keys); \
         grep -E ' /proc/(keys|sys) ' /proc/self/mountinfo | wc -l");
    let out = t.run(&b, "undo").ok();
    assert_eq!(
        out.lines(),
        [
            "umount-keys=1",
            "umount-acpi=1",
            "umount-sys=1",
            "remount-sys=1",
            "remount-bind-sys=1",
            "mount-proc=1",
            "write-sys=1",
            "keys=0",
            "2"
        ],
        "{out}"
    );
}

/// The mount options (mountinfo field 6) of the mount at `point`.
fn mount_options(mountinfo: &str, point: &str) -> Vec<String> {
    let line = mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(point))
        .unwrap_or_else(|| panic!("no mount at {point}:\n{mountinfo}"));
    line.split(' ')
        .nth(5)
        .unwrap()
        .split(',')
        .map(String::from)
        .collect()
}

#[test]
fn proc_and_sys_nosuid_nodev_noexec_when_asked() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| c["mounts"][0]["options"] = json!(["nosuid", "noexec", "nodev"]));
    let info = t.run_sh(&b, "asked", "cat /proc/self/mountinfo");
    for point in ["/proc", "/sys"] {
        let opts = mount_options(&info, point);
        for o in ["nosuid", "nodev", "noexec"] {
            assert!(opts.iter().any(|x| x == o), "{point}: {opts:?} lacks {o}");
        }
    }
}

#[test]
fn proc_and_sys_nosuid_nodev_noexec_even_when_not_asked() {
    // Issue 3: "/proc and /sys are mounted with nosuid,nodev,noexec". runc's
    // default config asks for them on /sys but not on /proc.
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| {
        c["mounts"][0] = json!({"destination": "/proc", "type": "proc", "source": "proc"});
        let sys = c["mounts"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        *sys =
            json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]});
    });
    let info = t.run_sh(&b, "unasked", "cat /proc/self/mountinfo");
    let mut missing = Vec::new();
    for point in ["/proc", "/sys"] {
        let opts = mount_options(&info, point);
        for o in ["nosuid", "nodev", "noexec"] {
            if !opts.iter().any(|x| x == o) {
                missing.push(format!("{point} lacks {o} ({})", opts.join(",")));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
