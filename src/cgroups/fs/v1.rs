//! cgroup v1: a directory per mounted hierarchy, each holding the
//! controllers bound to it.

use std::path::{Path, PathBuf};

use super::dirs;
use crate::cgroups::controllers::{Controller, cpuset, devices, freezer, memory, pids};
use crate::error::Result;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Hierarchy {
    /// e.g. ["cpu", "cpuacct"] or ["name=systemd"]
    pub controllers: Vec<String>,
    pub mount: PathBuf,
    /// The container's cgroup in this hierarchy.
    pub dir: PathBuf,
}

impl Hierarchy {
    /// mkdir the container's directory (and its parents).
    pub fn create(&self) -> Result<()> {
        if !self
            .controllers
            .iter()
            .any(|c| c == cpuset::CONTROLLER.name)
        {
            return dirs::mkdir_all(&self.dir);
        }
        // Level by level, for each new cpuset cgroup to get its cpus and
        // mems before the next one is made below it.
        let rel = self.dir.strip_prefix(&self.mount).unwrap_or(Path::new(""));
        let mut parent = self.mount.clone();
        for part in rel.components() {
            let cur = parent.join(part);
            dirs::mkdir_all(&cur)?;
            cpuset::inherit_v1(&parent, &cur)?;
            parent = cur;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct V1 {
    pub hierarchies: Vec<Hierarchy>,
}

impl V1 {
    fn hierarchy(&self, c: &Controller) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|n| n == c.name))
    }

    /// The container's directory in `c`'s hierarchy, if one is mounted.
    pub fn dir(&self, c: &Controller) -> Option<&Path> {
        self.hierarchy(c).map(|h| h.dir.as_path())
    }

    pub fn create(&self) -> Result<()> {
        self.hierarchies.iter().try_for_each(Hierarchy::create)
    }

    /// The directory whose cgroup.procs (recursively) lists the container.
    pub fn procs_dir(&self) -> Option<&Path> {
        // Every hierarchy lists all processes; the freezer's is the one that
        // kill_all freezes.
        [
            &freezer::CONTROLLER,
            &pids::CONTROLLER,
            &memory::CONTROLLER,
            &devices::CONTROLLER,
        ]
        .iter()
        .find_map(|c| self.hierarchy(c))
        .or(self.hierarchies.first())
        .map(|h| h.dir.as_path())
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::cgroups::Cgroup;
    use crate::cgroups::controllers::memory::{MEM_LIMIT, MEMSW_LIMIT};
    use crate::cgroups::mounts::{Mount, Mounts, V1Mount};
    use oci_spec::runtime::LinuxResources;

    /// A fake v1 tree: one hierarchy per controller under a temp dir, the
    /// container at /c with the control files it may touch.
    struct Fake {
        root: PathBuf,
        cg: Cgroup,
    }

    const FILES: &[(&str, &[(&str, &str)])] = &[
        (
            "memory",
            &[
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
                ("memory.soft_limit_in_bytes", ""),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
                ),
                ("memory.swappiness", ""),
                ("memory.use_hierarchy", ""),
            ],
        ),
        (
            "cpu,cpuacct",
            &[
                ("cpu.shares", ""),
                ("cpu.cfs_period_us", ""),
                ("cpu.cfs_quota_us", ""),
                ("cpu.cfs_burst_us", ""),
                ("cpu.rt_period_us", ""),
                ("cpu.rt_runtime_us", ""),
                ("cpu.idle", ""),
            ],
        ),
        (
            "cpuset",
            &[("cpuset.cpus", "0-1\n"), ("cpuset.mems", "0\n")],
        ),
        ("pids", &[("pids.max", "")]),
        (
            "blkio",
            &[
                ("blkio.bfq.weight", ""),
                ("blkio.bfq.weight_device", ""),
                ("blkio.leaf_weight", ""),
                ("blkio.leaf_weight_device", ""),
                ("blkio.throttle.read_bps_device", ""),
                ("blkio.throttle.write_bps_device", ""),
                ("blkio.throttle.read_iops_device", ""),
                ("blkio.throttle.write_iops_device", ""),
            ],
        ),
        (
            "hugetlb",
            &[
                ("hugetlb.2MB.limit_in_bytes", ""),
                ("hugetlb.2MB.rsvd.limit_in_bytes", ""),
            ],
        ),
        (
            "net_cls,net_prio",
            &[("net_cls.classid", ""), ("net_prio.ifpriomap", "")],
        ),
        ("rdma", &[("rdma.max", "")]),
        ("devices", &[("devices.allow", ""), ("devices.deny", "")]),
        ("freezer", &[("freezer.state", "THAWED\n")]),
    ];

    impl Fake {
        fn new(name: &str) -> Fake {
            let root = std::env::temp_dir().join(format!("hull-v1-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let mut mounts = Mounts::default();
            for (hier, files) in FILES {
                let point = root.join(hier);
                std::fs::create_dir_all(point.join("c")).unwrap();
                for (file, content) in *files {
                    std::fs::write(point.join("c").join(file), content).unwrap();
                }
                let controllers = hier.split(',').map(String::from).collect();
                let mount = Mount {
                    point,
                    root: "/".into(),
                };
                mounts.v1.push(V1Mount { controllers, mount });
            }
            let cg = Cgroup::resolve(&mounts, "", Some(Path::new("/c")), "id").unwrap();
            Fake { root, cg }
        }

        /// Everything written to a file, one write a line (after its
        /// initial content).
        fn file(&self, hier: &str, file: &str) -> String {
            std::fs::read_to_string(self.root.join(hier).join("c").join(file)).unwrap()
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
    fn writes_every_field() {
        let f = Fake::new("all");
        f.cg.apply(&resources(serde_json::json!({
            "memory": {"limit": 1000000, "reservation": 500000, "swap": 2000000, "kernel": 1,
                       "kernelTCP": 1, "swappiness": 10, "disableOOMKiller": true, "useHierarchy": true},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000,
                    "realtimeRuntime": 1000, "realtimePeriod": 10000, "cpus": "1", "mems": "0", "idle": 1},
            "pids": {"limit": 0},
            "blockIO": {"weight": 300, "leafWeight": 200,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 700}],
                        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 80}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 90}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
            "devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]
        })))
        .unwrap();
        let big = "9223372036854771712\n";
        assert_eq!(f.file("memory", MEM_LIMIT), format!("{big}1000000\n"));
        assert_eq!(f.file("memory", MEMSW_LIMIT), format!("{big}2000000\n"));
        assert_eq!(f.file("memory", "memory.soft_limit_in_bytes"), "500000\n");
        assert!(f.file("memory", "memory.oom_control").ends_with("1\n"));
        assert_eq!(f.file("memory", "memory.swappiness"), "10\n");
        assert_eq!(f.file("memory", "memory.use_hierarchy"), "1\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.shares"), "512\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.cfs_quota_us"), "50000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.cfs_period_us"), "100000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.cfs_burst_us"), "1000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.rt_period_us"), "10000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.rt_runtime_us"), "1000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.idle"), "1\n");
        assert_eq!(f.file("cpuset", "cpuset.cpus"), "0-1\n1\n");
        assert_eq!(f.file("cpuset", "cpuset.mems"), "0\n0\n");
        assert_eq!(f.file("pids", "pids.max"), "0\n");
        assert_eq!(f.file("blkio", "blkio.bfq.weight"), "300\n");
        assert_eq!(f.file("blkio", "blkio.leaf_weight"), "200\n");
        assert_eq!(f.file("blkio", "blkio.bfq.weight_device"), "8:0 500\n");
        assert_eq!(f.file("blkio", "blkio.leaf_weight_device"), "8:0 300\n");
        assert_eq!(
            f.file("blkio", "blkio.throttle.read_bps_device"),
            "8:0 600\n"
        );
        assert_eq!(
            f.file("blkio", "blkio.throttle.write_bps_device"),
            "8:0 700\n"
        );
        assert_eq!(
            f.file("blkio", "blkio.throttle.read_iops_device"),
            "8:0 80\n"
        );
        assert_eq!(
            f.file("blkio", "blkio.throttle.write_iops_device"),
            "8:16 90\n"
        );
        assert_eq!(f.file("hugetlb", "hugetlb.2MB.limit_in_bytes"), "4194304\n");
        assert_eq!(
            f.file("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes"),
            "4194304\n"
        );
        assert_eq!(f.file("net_cls,net_prio", "net_cls.classid"), "1048577\n");
        assert_eq!(f.file("net_cls,net_prio", "net_prio.ifpriomap"), "eth0 5\n");
        assert_eq!(
            f.file("rdma", "rdma.max"),
            "mlx5_1 hca_handle=3 hca_object=10000\n"
        );
        assert_eq!(
            f.file("devices", "devices.deny"),
            "a *:* rwm\na *:* rwm\n",
            "implicit + config"
        );
        let allow = f.file("devices", "devices.allow");
        assert!(
            allow.starts_with("c 10:229 rw\nc *:* m\nb *:* m\nc 1:3 rwm\n"),
            "{allow}"
        );
        assert!(allow.ends_with("c 10:200 rwm\n"), "{allow}");
        assert_eq!(f.cg.oom_kills().unwrap(), 3);
    }

    #[test]
    fn memsw_order_follows_direction() {
        // Both files are links to one log, which shows the write order.
        let f = Fake::new("memsw");
        let dir = f.root.join("memory/c");
        std::fs::write(dir.join("log"), "1000000\n").unwrap();
        for file in [MEM_LIMIT, MEMSW_LIMIT] {
            std::fs::remove_file(dir.join(file)).unwrap();
            std::os::unix::fs::symlink("log", dir.join(file)).unwrap();
        }
        let raise = resources(serde_json::json!({"memory": {"limit": 3000000, "swap": 4000000}}));
        f.cg.update(&raise).unwrap();
        assert_eq!(
            f.file("memory", "log"),
            "1000000\n4000000\n3000000\n",
            "memsw first"
        );
        let lower = resources(serde_json::json!({"memory": {"limit": 500000, "swap": 600000}}));
        f.cg.update(&lower).unwrap();
        assert!(
            f.file("memory", "log")
                .ends_with("3000000\n500000\n600000\n"),
            "memory first"
        );
    }

    #[test]
    fn update_skips_zeroes_and_errors_name_fields() {
        let f = Fake::new("update");
        let r = resources(serde_json::json!({
            "memory": {"limit": 0, "reservation": 0, "swap": 0, "swappiness": 0},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": "", "burst": 0},
            "pids": {"limit": 0},
            "blockIO": {"weight": 0},
            "devices": []
        }));
        f.cg.update(&r).unwrap();
        assert_eq!(f.file("devices", "devices.deny"), "");
        assert_eq!(f.file("pids", "pids.max"), "");
        assert_eq!(f.file("cpu,cpuacct", "cpu.shares"), "");
        assert_eq!(f.file("memory", "memory.swappiness"), "");

        std::fs::remove_file(f.root.join("cpu,cpuacct/c/cpu.idle")).unwrap();
        let e =
            f.cg.apply(&resources(serde_json::json!({"cpu": {"idle": 1}})))
                .unwrap_err();
        assert!(
            e.message()
                .starts_with("linux.resources.cpu.idle: not supported"),
            "{e}"
        );
        let e =
            f.cg.apply(&resources(
                serde_json::json!({"unified": {"memory.max": "1"}}),
            ))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "linux.resources.unified: invalid configuration: this host has no cgroup v2 hierarchy"
        );
        let e =
            f.cg.apply(&resources(
                serde_json::json!({"memory": {"swappiness": 101}}),
            ))
            .unwrap_err();
        assert!(
            e.message().contains("swappiness: 101 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn freezer_and_missing_controller() {
        let f = Fake::new("freezer");
        // A plain file echoes the state back: FROZEN at once.
        f.cg.freeze().unwrap();
        assert!(f.cg.is_frozen().unwrap());
        f.cg.thaw().unwrap();
        assert!(!f.cg.is_frozen().unwrap());

        let mut mounts = Mounts::default();
        mounts.v1.push(V1Mount {
            controllers: vec!["memory".into()],
            mount: Mount {
                point: f.root.join("memory"),
                root: "/".into(),
            },
        });
        let cg = Cgroup::resolve(&mounts, "", Some(Path::new("/c")), "x").unwrap();
        let e = cg
            .apply(&resources(serde_json::json!({"pids": {"limit": 5}})))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "linux.resources.pids.limit: the pids controller is not available on this host"
        );
        let e = cg.freeze().unwrap_err();
        assert!(
            e.message().contains("freezer controller is not available"),
            "{e}"
        );
    }
}
