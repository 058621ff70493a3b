//! cgroup v2: one directory in the unified tree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::dirs;
use crate::bail;
use crate::cgroups::controllers::{Controller, Unified};
use crate::cgroups::files::{field_error, read_opt, write, write_raw};
use crate::error::Result;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct V2 {
    /// Where the unified hierarchy is mounted.
    pub mount: PathBuf,
    /// The container's cgroup.
    pub dir: PathBuf,
}

impl V2 {
    /// Controllers enabled for the container (its cgroup.controllers), or
    /// those it could get when it does not exist yet.
    fn controllers(&self) -> Vec<String> {
        let text = read_opt(&self.dir, "cgroup.controllers")
            .ok()
            .flatten()
            .or_else(|| read_opt(&self.mount, "cgroup.controllers").ok().flatten())
            .unwrap_or_default();
        text.split_whitespace().map(String::from).collect()
    }

    /// SIGKILL every process below the cgroup at once (cgroup.kill, 5.14+).
    pub fn kill(&self) -> Result<()> {
        write(&self.dir, "cgroup.kill", "1", "kill cgroup")
    }

    /// The `unified` map: raw files in the container's cgroup.
    pub fn unified(&self, kv: &HashMap<String, String>) -> Result<()> {
        let mut keys: Vec<_> = kv.iter().collect();
        keys.sort();
        for (key, value) in keys {
            let field = format!("linux.resources.unified.{key}");
            let Some((controller, _)) = key.split_once('.').filter(|_| !key.contains('/')) else {
                bail!("{field}: want a file name CONTROLLER.PARAMETER");
            };
            // Multi-line values (io.max for several devices) are one
            // write per line, as the kernel parses one entry per write.
            for line in value
                .lines()
                .filter(|l| !l.trim().is_empty())
                .chain(value.is_empty().then_some(""))
            {
                match write_raw(&self.dir, key, line) {
                    Ok(()) => {}
                    Err(Errno::ENOENT | Errno::EPERM)
                        if controller != "cgroup"
                            && !self.controllers().iter().any(|c| c == controller) =>
                    {
                        bail!(
                            "{field}: the {controller} controller is not enabled in {} \
                             (missing, or bound to a cgroup v1 hierarchy)",
                            self.dir.display()
                        )
                    }
                    Err(e) => return Err(field_error(&self.dir, key, line, &field, e)),
                }
            }
        }
        Ok(())
    }

    /// Whether the container's cgroup here has `c`.
    pub fn offers(&self, c: &Controller) -> bool {
        match c.v2 {
            Unified::Listed(name) => self.controllers().iter().any(|n| n == name),
            Unified::Builtin(probe) => probe(&self.mount, &self.dir),
            Unified::Absent => false,
        }
    }

    pub fn create(&self) -> Result<()> {
        // A controller reaches a cgroup only through every ancestor's
        // subtree_control. Enable what each level offers, as runc does;
        // failures (EBUSY below a populated non-root cgroup, e.g. a
        // relative path under our own) surface in apply, naming the field.
        let rel = self.dir.strip_prefix(&self.mount).unwrap_or(Path::new(""));
        let mut cur = self.mount.clone();
        for part in rel.components() {
            let offered = read_opt(&cur, "cgroup.controllers")?.unwrap_or_default();
            let enabled = read_opt(&cur, "cgroup.subtree_control")?.unwrap_or_default();
            let enabled: Vec<&str> = enabled.split_whitespace().collect();
            for c in offered.split_whitespace().filter(|c| !enabled.contains(c)) {
                let _ = write_raw(&cur, "cgroup.subtree_control", &format!("+{c}"));
            }
            cur.push(part);
            dirs::mkdir_all(&cur)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::cgroups::Cgroup;
    use crate::cgroups::mounts::{Mount, Mounts};
    use oci_spec::runtime::LinuxResources;

    /// A fake unified tree at a temp dir; the container at /a/c.
    struct Fake {
        root: PathBuf,
        cg: Cgroup,
    }

    const CONTROLLERS: &str = "cpuset cpu io memory hugetlb pids rdma\n";
    const LEAF_FILES: &[(&str, &str)] = &[
        ("memory.max", "max\n"),
        ("memory.swap.max", ""),
        ("memory.low", ""),
        ("memory.high", ""),
        ("memory.current", "4096\n"),
        ("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"),
        ("cpu.weight", ""),
        ("cpu.max", "max 100000\n"),
        ("cpu.max.burst", ""),
        ("cpu.idle", ""),
        ("cpuset.cpus", ""),
        ("cpuset.mems", ""),
        ("pids.max", ""),
        ("io.weight", ""),
        ("io.max", ""),
        ("hugetlb.2MB.max", ""),
        ("hugetlb.2MB.rsvd.max", ""),
        ("rdma.max", ""),
        ("cgroup.freeze", "0\n"),
        ("cgroup.events", "populated 0\nfrozen 1\n"),
        ("cgroup.kill", ""),
    ];

    impl Fake {
        fn new(name: &str) -> Fake {
            let root = std::env::temp_dir().join(format!("hull-v2-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let leaf = root.join("a/c");
            std::fs::create_dir_all(&leaf).unwrap();
            for dir in [&root, &root.join("a"), &leaf] {
                std::fs::write(dir.join("cgroup.controllers"), CONTROLLERS).unwrap();
                std::fs::write(dir.join("cgroup.subtree_control"), "").unwrap();
            }
            for (file, content) in LEAF_FILES {
                std::fs::write(leaf.join(file), content).unwrap();
            }
            let mounts = Mounts {
                v1: vec![],
                v2: Some(Mount {
                    point: root.clone(),
                    root: "/".into(),
                }),
            };
            let cg = Cgroup::resolve(&mounts, "0::/\n", Some(Path::new("/a/c")), "id").unwrap();
            Fake { root, cg }
        }

        fn file(&self, file: &str) -> String {
            std::fs::read_to_string(self.root.join("a/c").join(file)).unwrap()
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    fn resources(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn create_enables_controllers_on_the_way_down() {
        let f = Fake::new("create");
        f.cg.create().unwrap();
        let want = "+cpuset\n+cpu\n+io\n+memory\n+hugetlb\n+pids\n+rdma\n";
        let read = |p: &str| std::fs::read_to_string(f.root.join(p)).unwrap();
        assert_eq!(read("cgroup.subtree_control"), want);
        assert_eq!(read("a/cgroup.subtree_control"), want);
        assert_eq!(
            read("a/c/cgroup.subtree_control"),
            "",
            "the leaf keeps its processes"
        );
        assert_eq!(f.cg.unified_dir(), Some(f.root.join("a/c")));
    }

    #[test]
    fn writes_every_field() {
        let f = Fake::new("all");
        f.cg.apply(&resources(serde_json::json!({
            "memory": {"limit": 1000000, "reservation": 500000, "swap": 3000000, "kernel": 5,
                       "checkBeforeUpdate": true, "useHierarchy": true, "disableOOMKiller": false},
            "cpu": {"shares": 1024, "quota": 50000, "period": 200000, "burst": 1000,
                    "cpus": "0-1", "mems": "0", "idle": 0},
            "pids": {"limit": -1},
            "blockIO": {"weight": 500,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 700}],
                        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 80}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 90}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "rdma": {"mlx5_1": {"hcaHandles": 3}},
            "unified": {"memory.high": "900000", "io.max": "8:0 rbps=1\n8:16 wiops=2"}
        })))
        .unwrap();
        assert_eq!(f.file("memory.max"), "max\n1000000\n");
        assert_eq!(f.file("memory.swap.max"), "2000000\n");
        assert_eq!(f.file("memory.low"), "500000\n");
        assert_eq!(f.file("cpu.weight"), "39\n");
        assert_eq!(f.file("cpu.max"), "max 100000\n50000 200000\n");
        assert_eq!(f.file("cpu.max.burst"), "1000\n");
        assert_eq!(f.file("cpu.idle"), "0\n");
        assert_eq!(f.file("cpuset.cpus"), "0-1\n");
        assert_eq!(f.file("cpuset.mems"), "0\n");
        assert_eq!(f.file("pids.max"), "max\n");
        assert_eq!(f.file("io.weight"), "4950\n8:0 10000\n");
        assert_eq!(
            f.file("io.max"),
            "8:0 rbps=600\n8:0 wbps=700\n8:0 riops=80\n8:16 wiops=90\n8:0 rbps=1\n8:16 wiops=2\n"
        );
        assert_eq!(f.file("hugetlb.2MB.max"), "4194304\n");
        assert_eq!(f.file("hugetlb.2MB.rsvd.max"), "4194304\n");
        assert_eq!(f.file("rdma.max"), "mlx5_1 hca_handle=3\n");
        assert_eq!(f.file("memory.high"), "900000\n");
        assert_eq!(f.cg.oom_kills().unwrap(), 1);
    }

    #[test]
    fn update_keeps_the_other_half_of_cpu_max() {
        let f = Fake::new("cpumax");
        std::fs::write(f.root.join("a/c/cpu.max"), "20000 50000\n").unwrap();
        f.cg.update(&resources(
            serde_json::json!({"cpu": {"quota": 0, "period": 100000}}),
        ))
        .unwrap();
        f.cg.update(&resources(serde_json::json!({"cpu": {"quota": -1}})))
            .unwrap();
        assert_eq!(f.file("cpu.max"), "20000 50000\n20000 100000\nmax 100000\n");
        // Swap without limit: computed against the current memory.max.
        std::fs::write(f.root.join("a/c/memory.max"), "1000\n").unwrap();
        f.cg.update(&resources(serde_json::json!({"memory": {"swap": 3000}})))
            .unwrap();
        assert_eq!(f.file("memory.swap.max"), "2000\n");
    }

    #[test]
    fn refuses_what_v2_lacks() {
        let f = Fake::new("refuse");
        let err = |json| {
            f.cg.apply(&resources(json))
                .unwrap_err()
                .message()
                .to_string()
        };
        assert_eq!(
            err(serde_json::json!({"network": {"classID": 1}})),
            "linux.resources.network.classID: the net_cls controller is not available on this host (it exists only in cgroup v1)"
        );
        assert!(
            err(serde_json::json!({"memory": {"swappiness": 10}}))
                .starts_with("linux.resources.memory.swappiness: not supported")
        );
        assert!(
            err(serde_json::json!({"memory": {"disableOOMKiller": true}}))
                .contains("disableOOMKiller")
        );
        assert!(
            err(serde_json::json!({"cpu": {"realtimeRuntime": 5}})).contains("realtimeRuntime")
        );
        assert!(err(serde_json::json!({"blockIO": {"leafWeight": 5}})).contains("leafWeight"));
        assert!(
            err(serde_json::json!({"memory": {"limit": 100, "swap": 50}}))
                .contains("swap: 50 is below")
        );
        assert!(
            err(serde_json::json!({"memory": {"limit": 4096, "checkBeforeUpdate": true}}))
                .contains("current usage 4096")
        );
        assert_eq!(
            err(serde_json::json!({"unified": {"misc.max": "x 1"}})),
            format!(
                "linux.resources.unified.misc.max: the misc controller is not enabled in {} (missing, or bound to a cgroup v1 hierarchy)",
                f.root.join("a/c").display()
            )
        );
        assert!(err(serde_json::json!({"unified": {"../x": "1"}})).contains("want a file name"));
        assert!(
            err(serde_json::json!({"hugepageLimits": [{"pageSize": "1GB", "limit": 1}]}))
                .contains("hugepageLimits[1GB]: not supported")
        );
        // Found by fuzz/ (update): the page size is part of a file name,
        // and led out of the container's cgroup through a sub-cgroup
        // (a/c/hugetlb.x) to its sibling's memory.max.
        std::fs::create_dir(f.root.join("a/c/hugetlb.x")).unwrap();
        std::fs::write(f.root.join("a/b.max"), "").unwrap();
        let escape = serde_json::json!({"hugepageLimits": [{"pageSize": "x/../../b", "limit": 1}]});
        assert_eq!(
            err(escape),
            "linux.resources.hugepageLimits: pageSize \"x/../../b\" is not a huge page size (like 2MB or 1GB)"
        );
        assert_eq!(std::fs::read_to_string(f.root.join("a/b.max")).unwrap(), "");
    }

    #[test]
    fn freeze_and_stats() {
        let f = Fake::new("freeze");
        f.cg.freeze().unwrap();
        assert!(f.cg.is_frozen().unwrap());
        f.cg.thaw().unwrap();
        assert!(!f.cg.is_frozen().unwrap());
        std::fs::write(
            f.root.join("a/c/cpu.stat"),
            "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\n",
        )
        .unwrap();
        std::fs::write(f.root.join("a/c/pids.current"), "2\n").unwrap();
        let s = f.cg.stats().unwrap();
        assert_eq!(s["cpu"]["usage"]["total"], 10000);
        assert_eq!(s["cpu"]["usage"]["kernel"], 4000);
        assert_eq!(s["cpu"]["throttling"]["periods"], 3);
        assert_eq!(s["pids"]["current"], 2);
        assert_eq!(s["memory"]["usage"]["usage"], 4096);
        assert_eq!(s["memory"]["usage"]["failcnt"], 2);
    }

    #[test]
    fn bfq_weight_unlimited_values_and_kill() {
        let f = Fake::new("bfq");
        std::fs::write(f.root.join("a/c/io.bfq.weight"), "").unwrap();
        f.cg.apply(&resources(serde_json::json!({
            "memory": {"limit": -1, "reservation": -1},
            "cpu": {"quota": -1},
            "blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 50}]}
        })))
        .unwrap();
        // BFQ keeps blkio's 10..1000 scale; io.weight is left alone.
        assert_eq!(f.file("io.bfq.weight"), "300\n8:0 50\n");
        assert_eq!(f.file("io.weight"), "");
        assert_eq!(f.file("memory.max"), "max\nmax\n");
        assert_eq!(
            f.file("memory.swap.max"),
            "max\n",
            "unlimited memory: unlimited swap"
        );
        assert_eq!(f.file("memory.low"), "max\n");
        assert_eq!(f.file("cpu.max"), "max 100000\nmax 100000\n");
        // Nothing in cgroup.procs: nothing to kill, cgroup.kill untouched
        // (host_tests kill real processes).
        f.cg.kill_all(nix::libc::SIGKILL).unwrap();
        assert_eq!(f.file("cgroup.kill"), "");
    }

    #[test]
    fn cpuset_refusal_names_what_the_parent_offers() {
        let f = Fake::new("cpuset");
        std::fs::write(f.root.join("a/cpuset.cpus.effective"), "0-3\n").unwrap();
        std::fs::write(f.root.join("a/cpuset.mems.effective"), "0\n").unwrap();
        // A directory where the file should be: the write fails (EISDIR).
        std::fs::remove_file(f.root.join("a/c/cpuset.cpus")).unwrap();
        std::fs::create_dir(f.root.join("a/c/cpuset.cpus")).unwrap();
        let e =
            f.cg.apply(&resources(
                serde_json::json!({"cpu": {"cpus": "9", "mems": "0"}}),
            ))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "linux.resources.cpu.cpus: write 9 to cpuset.cpus: is a directory \
             (the parent cgroup offers 0-3)"
        );
        // A missing file stays "not supported", without the hint.
        std::fs::remove_dir(f.root.join("a/c/cpuset.cpus")).unwrap();
        let e =
            f.cg.apply(&resources(serde_json::json!({"cpu": {"cpus": "1"}})))
                .unwrap_err();
        assert!(
            e.message()
                .starts_with("linux.resources.cpu.cpus: not supported on this host"),
            "{e}"
        );
    }
}
