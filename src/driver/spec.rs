//! Command -> OCI config. [`translate`] is pure: everything it needs from
//! the host (the image's users, the capabilities hull holds, the host's
//! devices, another container's namespace) is gathered first into
//! [`HostFacts`] by [`HostFacts::gather`], which is also where a Command
//! that names something missing on the host is refused.

use super::caps;
use super::command::Command;
use super::user::{ExecUser, UserDb};
use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Used when the Command's env has no PATH (as Docker's daemon did).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// runc's and Docker's masked /proc and /sys paths.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// A device node of the host, for privileged containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDevice {
    pub path: String,
    /// `c` or `b`
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// What the translation needs from the host, gathered beforehand.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// The resolved `user`.
    pub user: Option<ExecUser>,
    /// Capabilities hull holds (used when privileged).
    pub held_caps: Vec<::caps::Capability>,
    /// The host's device nodes (used when privileged).
    pub devices: Vec<HostDevice>,
    /// `network.container_id`'s network namespace.
    pub join_netns: Option<PathBuf>,
}

impl HostFacts {
    /// Read what `cmd` needs from the host; an error names the Command
    /// field whose object is missing. `cmd` must be valid.
    pub fn gather(cmd: &Command, state_root: &Path) -> Result<HostFacts> {
        let rootfs = Path::new(&cmd.rootfs);
        if !rootfs.is_dir() {
            crate::bail!(
                "command: rootfs: {} does not exist or is not a directory",
                rootfs.display()
            );
        }
        let users = UserDb::load(rootfs).map_err(|e| Error::new(format!("command: user: {e}")))?;
        let user = users
            .resolve(&cmd.user)
            .map_err(|e| Error::new(format!("command: user: {e}")))?;
        for (i, m) in cmd.mounts.iter().enumerate() {
            std::fs::metadata(&m.source).map_err(|e| {
                Error::new(format!(
                    "command: mounts[{i}].source: {}: {}",
                    m.source,
                    Error::from(e)
                ))
            })?;
        }
        let mut facts = HostFacts {
            user: Some(user),
            ..Default::default()
        };
        if cmd.privileged {
            facts.held_caps = caps::held()?;
            facts.devices = host_devices(Path::new("/dev"))?;
        }
        if let Some(n) = &cmd.network
            && !n.container_id.is_empty()
        {
            facts.join_netns = Some(
                container_netns(state_root, &n.container_id)
                    .map_err(|e| Error::new(format!("command: network.container_id: {e}")))?,
            );
        }
        Ok(facts)
    }
}

/// `/proc/<pid>/ns/net` of a live container under `state_root`.
fn container_netns(state_root: &Path, id: &str) -> Result<PathBuf> {
    let dir = crate::state::StateDir::open(state_root, id)?;
    let st = dir.load()?;
    if !st.alive() {
        crate::bail!("container {id:?} is not running");
    }
    Ok(PathBuf::from(format!("/proc/{}/ns/net", st.pid)))
}

/// Every char and block device under `dev`, as Docker's privileged mode
/// gives them, except what the runtime sets up itself (pts, shm, mqueue,
/// the console and ptmx).
pub fn host_devices(dev: &Path) -> Result<Vec<HostDevice>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    let mut dirs = vec![dev.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Error::new(format!("read {}: {}", dir.display(), Error::from(e))))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(dev).unwrap_or(&path);
            if ["pts", "shm", "mqueue", "fd", "console", "ptmx"]
                .iter()
                .any(|s| rel == Path::new(s))
            {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                dirs.push(path);
                continue;
            }
            let kind = if ft.is_char_device() {
                'c'
            } else if ft.is_block_device() {
                'b'
            } else {
                continue;
            };
            let rdev = meta.rdev();
            out.push(HostDevice {
                path: Path::new("/dev").join(rel).display().to_string(),
                kind,
                major: nix::sys::stat::major(rdev),
                minor: nix::sys::stat::minor(rdev),
                mode: meta.mode() & 0o777,
                uid: meta.uid(),
                gid: meta.gid(),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The Command as an OCI config. `cmd` must be valid and `host` gathered
/// for it; `cgroups_path` becomes `linux.cgroupsPath`.
pub fn translate(cmd: &Command, host: &HostFacts, cgroups_path: &str) -> Result<Spec> {
    let value = translate_json(cmd, host, cgroups_path)?;
    serde_json::from_value(value).map_err(|e| {
        Error::new(format!(
            "driver: generated config is not an OCI config: {e}"
        ))
    })
}

fn translate_json(cmd: &Command, host: &HostFacts, cgroups_path: &str) -> Result<Value> {
    // The process first: its errors are reported before the resources'.
    let process = process(cmd, host)?;
    let (rules, devices) = devices(cmd, host);
    let mut resources = resources(cmd)?;
    // The Command's rules first; the lxc ones last, to refine them.
    let mut all = rules;
    if let Some(lxc) = resources.get_mut("devices").and_then(|d| d.as_array_mut()) {
        all.append(lxc);
    }
    resources["devices"] = json!(all);
    let mut linux = json!({
        "namespaces": namespaces(cmd, host),
        "cgroupsPath": cgroups_path,
        "resources": resources,
    });
    if !devices.is_empty() {
        linux["devices"] = json!(devices);
    }
    if !cmd.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    Ok(json!({
        "ociVersion": crate::container::state::OCI_VERSION,
        "process": process,
        "root": {"path": cmd.rootfs, "readonly": false},
        "hostname": cmd.hostname(),
        "mounts": mounts(cmd),
        "linux": linux,
    }))
}

/// `process`: the user, the capabilities, argv, env and cwd.
fn process(cmd: &Command, host: &HostFacts) -> Result<Value> {
    let user = host.user.clone().unwrap_or(ExecUser {
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
    });
    // Privileged starts from every capability hull holds (and ALL means
    // those); cap_add and cap_drop apply either way, as in moby.
    let caps = if cmd.privileged {
        caps::tweak_from(
            &host.held_caps,
            &host.held_caps,
            &cmd.cap_add,
            &cmd.cap_drop,
        )?
    } else {
        caps::tweak(&cmd.cap_add, &cmd.cap_drop)?
    };
    let cap_names = caps::names(&caps);
    // A non-root user keeps only the bounding set, as the kernel leaves
    // it after setuid in Docker's exec drivers.
    let live = if user.uid == 0 {
        cap_names.clone()
    } else {
        Vec::new()
    };
    let mut user_json = json!({"uid": user.uid, "gid": user.gid});
    if !user.additional_gids.is_empty() {
        user_json["additionalGids"] = json!(user.additional_gids);
    }
    let mut env = cmd.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    let mut args = vec![cmd.entrypoint.clone()];
    args.extend(cmd.arguments.iter().cloned());
    let cwd = if cmd.working_dir.is_empty() {
        "/"
    } else {
        &cmd.working_dir
    };
    Ok(json!({
        "terminal": cmd.tty,
        "user": user_json,
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": {"bounding": cap_names, "effective": live, "permitted": live},
        "noNewPrivileges": false
    }))
}

/// A pid, ipc, uts and mount namespace of its own; the network one
/// joined, the host's, or new.
fn namespaces(cmd: &Command, host: &HostFacts) -> Vec<Value> {
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    let network = cmd.network.as_ref();
    if let Some(path) = &host.join_netns {
        namespaces.push(json!({"type": "network", "path": path}));
    } else if !network.is_some_and(|n| n.host_networking) {
        namespaces.push(json!({"type": "network"}));
    }
    namespaces
}

/// Docker's default mounts, then the Command's binds.
fn mounts(cmd: &Command) -> Vec<Value> {
    let sys_opt = if cmd.privileged { "rw" } else { "ro" };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", sys_opt]}),
    ];
    for m in &cmd.mounts {
        let mut options = vec!["rbind", if m.writable { "rw" } else { "ro" }];
        if m.private {
            options.push("rprivate");
        } else if m.slave {
            options.push("rslave");
        }
        mounts.push(json!({"destination": m.destination, "type": "bind",
                           "source": m.source, "options": options}));
    }
    mounts
}

/// The device cgroup rules (from deny-all, allow-all when privileged,
/// then the Command's) and the device nodes to create (the host's when
/// privileged, then the autocreated ones).
fn devices(cmd: &Command, host: &HostFacts) -> (Vec<Value>, Vec<Value>) {
    let mut rules = vec![json!({"allow": cmd.privileged, "access": "rwm"})];
    for d in cmd.allowed_devices.iter().chain(&cmd.autocreated_devices) {
        rules.push(device_rule(d));
    }
    let mut devices: Vec<Value> = Vec::new();
    if cmd.privileged {
        for d in &host.devices {
            devices.push(json!({"path": d.path, "type": d.kind.to_string(),
                "major": d.major, "minor": d.minor, "fileMode": d.mode,
                "uid": d.uid, "gid": d.gid}));
        }
    }
    for d in &cmd.autocreated_devices {
        devices.retain(|h| h["path"] != json!(d.path));
        devices.push(json!({"path": d.path, "type": d.kind().to_string(),
            "major": d.major_number, "minor": d.minor_number, "fileMode": d.mode(),
            "uid": d.uid, "gid": d.gid}));
    }
    (rules, devices)
}

/// `resources` then the `lxc.cgroup` entries, as `linux.resources`.
fn resources(cmd: &Command) -> Result<Value> {
    let mut res = json!({});
    if let Some(r) = &cmd.resources {
        if r.memory > 0 {
            res["memory"]["limit"] = json!(r.memory);
        }
        if r.memory_swap != 0 {
            res["memory"]["swap"] = json!(r.memory_swap);
        }
        if r.cpu_shares > 0 {
            res["cpu"]["shares"] = json!(r.cpu_shares);
        }
        if !r.cpuset.is_empty() {
            res["cpu"]["cpus"] = json!(r.cpuset);
        }
    }
    super::lxc::apply(&cmd.config, &mut res)?;
    Ok(res)
}

fn device_rule(d: &super::command::Device) -> Value {
    let mut rule = json!({"allow": true, "type": d.kind().to_string(), "access": d.permissions()});
    if d.kind() == 'a' {
        return rule;
    }
    if d.major_number >= 0 {
        rule["major"] = json!(d.major_number);
    }
    if d.minor_number >= 0 {
        rule["minor"] = json!(d.minor_number);
    }
    rule
}
