//! `hull update` against a fake unified hierarchy of plain files: what
//! a resources document makes hull write must stay in the container's
//! cgroup, whatever its fields say (a page size, a unified key...).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The files of a cgroup with every controller hull drives on v2.
const FILES: &[&str] = &[
    "cgroup.controllers",
    "cgroup.subtree_control",
    "cgroup.freeze",
    "cgroup.kill",
    "memory.max",
    "memory.swap.max",
    "memory.low",
    "memory.high",
    "memory.oom.group",
    "cpu.weight",
    "cpu.max",
    "cpu.max.burst",
    "cpu.idle",
    "cpuset.cpus",
    "cpuset.mems",
    "pids.max",
    "io.weight",
    "io.bfq.weight",
    "io.max",
    "hugetlb.2MB.max",
    "hugetlb.2MB.rsvd.max",
    "hugetlb.1GB.max",
    "rdma.max",
    "misc.max",
];
const CONTROLLERS: &str = "cpuset cpu io memory hugetlb pids rdma misc\n";

/// `<tmp>/hull-fuzz-cgroup-<pid>/`: the mount point, the container's
/// cgroup `c`, a sibling `victim`, and `c/hugetlb.x`, a sub-cgroup the
/// container could have made.
fn mount() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::temp_dir().join(format!("hull-fuzz-cgroup-{}", std::process::id()))
    })
}

fn cgroup(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for f in FILES {
        let content = if *f == "cgroup.controllers" {
            CONTROLLERS
        } else {
            ""
        };
        std::fs::write(dir.join(f), content).unwrap();
    }
}

/// Every file of the tree but the container's own, with its length.
fn others(dir: &Path, container: &Path, out: &mut BTreeMap<PathBuf, u64>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            others(&path, container, out);
        } else if path.parent() != Some(container) {
            out.insert(path, meta.len());
        }
    }
}

/// Apply the document (already parsed) as `hull update` would.
pub fn update(r: &oci_spec::runtime::LinuxResources) {
    let mount = mount();
    let _ = std::fs::remove_dir_all(mount);
    let c = mount.join("c");
    for dir in [
        mount.to_path_buf(),
        mount.join("victim"),
        c.join("hugetlb.x"),
        c.clone(),
    ] {
        cgroup(&dir);
    }
    let mut before = BTreeMap::new();
    others(mount, &c, &mut before);
    let _ = hull::cgroups::fuzz::update_v2(mount, &c, r);
    let mut after = BTreeMap::new();
    others(mount, &c, &mut after);
    let changed: Vec<_> = (after.iter())
        .filter(|(path, len)| before.get(*path) != Some(len))
        .map(|(path, _)| path)
        .collect();
    assert!(
        changed.is_empty() && after.len() == before.len(),
        "update wrote outside the container's cgroup: {changed:?}"
    );
}
