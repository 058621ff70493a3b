//! `hull features`: the OCI features document (features.md,
//! features-linux.md), built from the tables the code itself uses to parse
//! and apply a config, so it cannot drift from what hull does.

use crate::namespaces;
use crate::rootfs::options;
use crate::security::{caps, sched, seccomp};
use serde::Serialize;
use serde_json::{Value, json};

/// The oldest config.json version hull accepts.
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// The hooks hull runs (config.md "POSIX-platform Hooks"), in the order
/// of a container's life.
pub const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// An enum's name as config.json spells it (its serde name).
fn name<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn names<T: Serialize>(v: impl IntoIterator<Item = T>) -> Vec<Value> {
    v.into_iter().map(name).collect()
}

/// The features document.
pub fn features() -> Value {
    json!({
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": crate::container::state::OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": options::names(),
        "linux": {
            "namespaces": namespaces::ALL.map(namespaces::config_name),
            "capabilities": caps::supported().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": crate::cgroups::features(),
            "seccomp": {
                "enabled": true,
                "actions": names(seccomp::supported_actions()),
                "operators": names(seccomp::OPERATORS),
                "archs": names(seccomp::archs()),
                "knownFlags": names(seccomp::KNOWN_FLAGS),
                "supportedFlags": names(seccomp::supported_flags()),
            },
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": false},
            "memoryPolicy": {
                "modes": names(sched::MEMORY_POLICY_MODES),
                "flags": names(sched::MEMORY_POLICY_FLAGS),
            },
        },
        "annotations": {
            "org.hull.version": env!("CARGO_PKG_VERSION"),
            "org.hull.commit": env!("HULL_COMMIT"),
            // runc's annotation says its build has checkpoint/restore;
            // hull's, whether they can run here (criu on PATH).
            "org.hull.checkpoint.enabled": crate::criu::find().is_some().to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap_or_else(|| panic!("not an array: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
            .collect()
    }

    #[test]
    fn lists_match_what_the_code_accepts() {
        let f = features();
        let linux = &f["linux"];
        // Every mount option listed parses (tmpcopyup needs a tmpfs, the
        // idmaps a bind mount).
        for opt in strings(&f["mountOptions"]) {
            let typ = if opt.ends_with("idmap") {
                "bind"
            } else {
                "tmpfs"
            };
            let m = oci_spec::runtime::MountBuilder::default()
                .destination("/x")
                .typ(typ)
                .options(vec![opt.to_string()])
                .build()
                .unwrap();
            let o = options::MountOptions::parse(&m).unwrap();
            assert!(o.data.is_empty(), "{opt} went to the data string");
        }
        assert!(strings(&f["mountOptions"]).contains(&"rbind"));
        assert_eq!(
            strings(&linux["namespaces"]),
            [
                "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"
            ]
        );
        let caps = strings(&linux["capabilities"]);
        assert_eq!(caps[0], "CAP_CHOWN");
        assert!(caps.contains(&"CAP_SYS_ADMIN"));
        // Every action listed compiles.
        let actions = strings(&linux["seccomp"]["actions"]);
        assert_eq!(actions.len(), 9, "{actions:?}");
        for a in &actions {
            let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getcwd"], "action": a}]});
            seccomp::compile(&serde_json::from_value(profile).unwrap()).unwrap();
        }
        assert_eq!(strings(&linux["seccomp"]["operators"]).len(), 7);
        let native = match std::env::consts::ARCH {
            "aarch64" => ["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"].as_slice(),
            _ => &["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        };
        assert_eq!(strings(&linux["seccomp"]["archs"]), native);
        let known = strings(&linux["seccomp"]["knownFlags"]);
        for flag in strings(&linux["seccomp"]["supportedFlags"]) {
            assert!(known.contains(&flag), "{flag}");
        }
        assert_eq!(strings(&linux["memoryPolicy"]["modes"]).len(), 7);
        assert!(strings(&linux["memoryPolicy"]["flags"]).contains(&"MPOL_F_STATIC_NODES"));
    }
}
