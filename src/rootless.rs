//! Rootless hull: run by a user who is not root on the host, or by root
//! of a user namespace that is not the host's (inside rootless podman).
//! What changes, as in runc: where state lives by default, how the
//! container's id maps are written (see `namespaces::write_id_maps`), and
//! cgroups: a cgroup the user may not make is done without when nothing
//! asks for limits, and device rules are left to the user namespace
//! (runc's `--rootless`: "ignore cgroup permission errors").

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::bail;
use crate::error::Result;

/// `--rootless`: runc's values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Rootless when not root on the host.
    #[default]
    Auto,
    On,
    Off,
}

impl Mode {
    pub fn parse(value: &str) -> Result<Mode> {
        Ok(match value {
            "auto" => Mode::Auto,
            "true" => Mode::On,
            "false" => Mode::Off,
            other => bail!("--rootless: {other:?} is not one of true, false, auto"),
        })
    }
}

static MODE: OnceLock<Mode> = OnceLock::new();

/// The flag, once, at start; [`cgroups`] decides from it when first asked.
pub fn set(mode: Mode) {
    let _ = MODE.set(mode);
}

/// Whether cgroups are rootless: permission errors are ignored where the
/// config asks for no limits, and device rules are not written (the user
/// namespace and the bound device nodes bound access instead).
pub fn cgroups() -> bool {
    static ROOTLESS: OnceLock<bool> = OnceLock::new();
    *ROOTLESS.get_or_init(|| match MODE.get().copied().unwrap_or_default() {
        Mode::Auto => detect(),
        Mode::On => true,
        Mode::Off => false,
    })
}

fn detect() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

/// Whether we run in a user namespace other than the host's (whose map
/// is the whole range onto itself).
pub fn in_user_namespace() -> bool {
    static IN_USERNS: OnceLock<bool> = OnceLock::new();
    *IN_USERNS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        })
    })
}

/// Our uid as the host sees it: our euid through /proc/self/uid_map (the
/// parent namespace's id, which is the host's one level down, as in
/// rootless podman), what a bus's EXTERNAL authentication must name.
pub fn host_uid() -> u32 {
    let euid = nix::unistd::geteuid().as_raw();
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    host_id(&map, euid).unwrap_or(euid)
}

/// `id` through an id map's text (`inside outside count` lines).
fn host_id(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [inside, outside, count] = f[..] else {
            return None;
        };
        let id = u64::from(id);
        (id >= inside && id - inside < count).then(|| (outside + id - inside) as u32)
    })
}

/// Whether we lack root on the host: id maps beyond our own ids go
/// through newuidmap/newgidmap, and a user namespace is required.
pub fn unprivileged() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// Whether we are root of the host's own user namespace (what device
/// rules, among others, need).
pub fn host_root() -> bool {
    !unprivileged() && !in_user_namespace()
}

/// The state root when `--root` is not given: runc's rule, with hull's
/// names. `$XDG_RUNTIME_DIR/hull` for a user who is not root, or for root
/// of a user namespace whose `$USER` is not root (rootless podman runs its
/// runtime so); `/run/hull` otherwise.
pub fn default_root() -> PathBuf {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
    let user_not_root = std::env::var("USER").map_or(true, |u| u != "root");
    match xdg {
        Some(dir) if unprivileged() || (user_not_root && in_user_namespace()) => {
            PathBuf::from(dir).join("hull")
        }
        _ if unprivileged() => PathBuf::from(format!("/run/user/{}/hull", nix::unistd::geteuid())),
        _ => PathBuf::from(crate::state::DEFAULT_ROOT),
    }
}

#[cfg(test)]
mod tests {
    use super::host_id;

    #[test]
    fn ids_map_through_the_range_holding_them() {
        let map = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(host_id(map, 0), Some(1000));
        assert_eq!(host_id(map, 1), Some(100000));
        assert_eq!(host_id(map, 65536), Some(165535));
        assert_eq!(host_id(map, 65537), None);
        assert_eq!(host_id("0 0 4294967295\n", 1234), Some(1234));
    }
}
