//! What CRIU must be told about a container because it comes from outside
//! it: mounts whose source is a host path (bind mounts, the cgroup v1
//! binds, /dev/null over masked files, device nodes bound from the host)
//! and namespaces the container joined by path. runc's rules and keys, so
//! its checkpoints and hull's are alike.

use crate::cgroups::Cgroup;
use crate::namespaces;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Component, Path, PathBuf};

/// The device nodes every container gets (rootfs/devices.rs), which hull
/// binds from the host inside a user namespace.
const DEFAULT_DEVICES: [&str; 6] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// `dest` as a clean absolute path inside the container (no `.`, `..`
/// taken lexically, never above `/`): CRIU matches mount points by it.
fn clean(dest: &Path) -> String {
    let mut out = PathBuf::from("/");
    for c in dest.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out.display().to_string()
}

/// Every mount of the container with a host source: (mount point in the
/// container, source on the host). `cgroup`: the container's, for the
/// binds of a v1 or hybrid `cgroup` mount.
pub fn host_mounts(spec: &Spec, bundle: &Path, cgroup: Option<&Cgroup>) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let typ = m.typ().as_deref().unwrap_or("");
        let options = m.options().as_deref().unwrap_or_default();
        let bind = typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        if bind {
            if let Some(src) = m.source() {
                out.push((clean(m.destination()), bundle.join(src)));
            }
        } else if typ == "cgroup" {
            let dirs = cgroup.map(|c| c.mount_dirs()).unwrap_or_default();
            // cgroup v2 alone is a real cgroup2 mount, CRIU's to dump.
            let v2_alone =
                matches!(dirs.as_slice(), [(point, _)] if point == Path::new("/sys/fs/cgroup"));
            if v2_alone {
                continue;
            }
            for (mount_point, dir) in dirs {
                if let Ok(rel) = mount_point.strip_prefix("/sys/fs/cgroup") {
                    out.push((clean(&m.destination().join(rel)), dir));
                }
            }
        }
    }
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    let configured = devices.into_iter().flatten().map(|d| d.path().clone());
    for path in DEFAULT_DEVICES.iter().map(PathBuf::from).chain(configured) {
        let key = clean(&path);
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, path));
        }
    }
    out
}

/// The masked files (not directories: those get a tmpfs, CRIU's to dump)
/// of the running container `pid`, each a bind of the host's /dev/null.
pub fn masked_files(spec: &Spec, pid: i32) -> Vec<String> {
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref());
    masked
        .into_iter()
        .flatten()
        .filter(|p| {
            let seen = PathBuf::from(format!("/proc/{pid}/root")).join(p.trim_start_matches('/'));
            std::fs::metadata(seen).is_ok_and(|m| !m.is_dir())
        })
        .map(|p| clean(Path::new(p)))
        .collect()
}

/// The ext_mnt pairs of a dump: each host mount named by its mount point,
/// each masked file by the name "/dev/null".
pub fn dump_mounts(
    spec: &Spec,
    bundle: &Path,
    cgroup: Option<&Cgroup>,
    pid: i32,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = host_mounts(spec, bundle, cgroup)
        .into_iter()
        .map(|(dest, _)| (dest.clone(), dest))
        .collect();
    for file in masked_files(spec, pid) {
        if !out.iter().any(|(k, _)| *k == file) {
            out.push((file, "/dev/null".to_string()));
        }
    }
    out
}

/// The ext_mnt pairs of a restore: each name of the dump and the host path
/// it is now.
pub fn restore_mounts(
    spec: &Spec,
    bundle: &Path,
    cgroup: Option<&Cgroup>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = host_mounts(spec, bundle, cgroup)
        .into_iter()
        .map(|(dest, src)| (dest, src.display().to_string()))
        .collect();
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref());
    if masked.is_some_and(|m| !m.is_empty()) && !out.iter().any(|(k, _)| k == "/dev/null") {
        out.push(("/dev/null".into(), "/dev/null".into()));
    }
    out
}

/// CRIU's name of a namespace type (`net`, `mnt`, ...).
pub fn criu_ns_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Time => "time",
    }
}

/// The namespaces the config joins by path: (type, path).
pub fn joined(spec: &Spec) -> Vec<(LinuxNamespaceType, PathBuf)> {
    namespaces::of(spec)
        .filter_map(|ns| ns.path().clone().map(|p| (ns.typ(), p)))
        .collect()
}

/// The `external` entries of a dump: the network and pid namespaces the
/// container joined, by inode (`net[4026532000]:extRootNetNS`), which the
/// restore is given back by key.
pub fn dump_namespaces(spec: &Spec) -> crate::Result<Vec<String>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for (typ, path) in joined(spec) {
        if !matches!(typ, LinuxNamespaceType::Network | LinuxNamespaceType::Pid) {
            continue;
        }
        let name = criu_ns_name(typ);
        let ino = std::fs::metadata(&path)
            .map_err(|e| {
                crate::Error::at(
                    "linux.namespaces",
                    format!("{name} {}: {}", path.display(), crate::Error::from(e)),
                )
            })?
            .ino();
        out.push(format!("{name}[{ino}]:{}", super::external_ns_key(name)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_clean() {
        assert_eq!(clean(Path::new("/a/./b/../c/")), "/a/c");
        assert_eq!(clean(Path::new("../../etc")), "/etc");
        assert_eq!(clean(Path::new("/")), "/");
    }

    #[test]
    fn binds_devices_and_masks_of_a_config() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.0",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data/", "type": "bind", "source": "/srv/data", "options": ["rbind"]},
                {"destination": "/etc/hosts", "source": "hosts", "options": ["bind", "ro"]}
            ],
            "linux": {
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
                "maskedPaths": ["/proc/kcore"]
            }
        }))
        .unwrap();
        let restore = restore_mounts(&spec, Path::new("/b"), None);
        assert_eq!(restore[0], ("/data".into(), "/srv/data".into()));
        assert_eq!(restore[1], ("/etc/hosts".into(), "/b/hosts".into()));
        assert!(restore.contains(&("/dev/fuse".into(), "/dev/fuse".into())));
        assert!(restore.contains(&("/dev/tty".into(), "/dev/tty".into())));
        assert_eq!(restore.iter().filter(|(k, _)| k == "/dev/null").count(), 1);
        // A dump names each mount by its mount point.
        let dump = dump_mounts(&spec, Path::new("/b"), None, std::process::id() as i32);
        assert_eq!(dump[0], ("/data".into(), "/data".into()));
        assert_eq!(dump[1], ("/etc/hosts".into(), "/etc/hosts".into()));
    }
}
