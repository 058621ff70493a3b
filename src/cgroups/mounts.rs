//! Which cgroup filesystems the host mounts, read once from
//! /proc/self/mountinfo.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Context, Error, Result};

/// The host's cgroup layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Only v1 hierarchies.
    V1,
    /// Only the unified hierarchy.
    V2,
    /// v1 hierarchies plus a cgroup2 mount (usually /sys/fs/cgroup/unified).
    Hybrid,
}

/// The host's cgroup layout, detected once.
pub fn mode() -> Result<Mode> {
    Ok(host()?.mode())
}

/// One cgroup filesystem mount.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Mount {
    /// Where it is mounted.
    pub point: PathBuf,
    /// Which cgroup of the hierarchy appears at `point` (not `/` inside a
    /// cgroup namespace or for a bind mount of a sub-cgroup).
    pub root: PathBuf,
}

impl Mount {
    /// `cgroup` (a path as /proc/self/cgroup shows it) relative to `point`.
    pub fn relative_to_root(&self, cgroup: &Path) -> PathBuf {
        let rel = cgroup.strip_prefix(&self.root).unwrap_or(cgroup);
        rel.strip_prefix("/").unwrap_or(rel).to_path_buf()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct V1Mount {
    /// Controllers bound to this hierarchy; named ones as `name=systemd`.
    pub controllers: Vec<String>,
    pub mount: Mount,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Mounts {
    pub v1: Vec<V1Mount>,
    pub v2: Option<Mount>,
}

const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

impl Mounts {
    pub fn mode(&self) -> Mode {
        match (self.v1.is_empty(), self.v2.is_some()) {
            (false, true) => Mode::Hybrid,
            (true, true) => Mode::V2,
            _ => Mode::V1,
        }
    }

    pub fn parse(mountinfo: &str) -> Mounts {
        let mut mounts = Mounts::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            if left.len() < 5 || right.len() < 3 {
                continue;
            }
            let mount = Mount {
                point: crate::sys::unescape_mountinfo(left[4]).into(),
                root: crate::sys::unescape_mountinfo(left[3]).into(),
            };
            match right[0] {
                "cgroup2" if mounts.v2.is_none() => mounts.v2 = Some(mount),
                "cgroup" => {
                    let controllers: Vec<String> = right[2]
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(String::from)
                        .collect();
                    // The same hierarchy may be mounted twice: keep the first.
                    if !controllers.is_empty()
                        && !mounts.v1.iter().any(|m| m.controllers == controllers)
                    {
                        mounts.v1.push(V1Mount { controllers, mount });
                    }
                }
                _ => {}
            }
        }
        mounts
    }
}

/// The mounts of this host, parsed on first use.
pub(super) fn host() -> Result<&'static Mounts> {
    static MOUNTS: OnceLock<Result<Mounts>> = OnceLock::new();
    let found = MOUNTS.get_or_init(|| {
        let text =
            std::fs::read_to_string("/proc/self/mountinfo").ctx(|| "read /proc/self/mountinfo")?;
        let mounts = Mounts::parse(&text);
        if mounts.v1.is_empty() && mounts.v2.is_none() {
            return Err(Error::new("no cgroup filesystem is mounted"));
        }
        Ok(mounts)
    });
    found.as_ref().map_err(Clone::clone)
}

/// Our own cgroup in the v1 hierarchy holding `controllers`, or in the
/// unified one for None, from /proc/self/cgroup text
/// (`4:memory:/a/b`, `0::/a`).
pub(super) fn own_cgroup(
    proc_self_cgroup: &str,
    controllers: Option<&[String]>,
) -> Option<PathBuf> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut f = line.splitn(3, ':');
        let (id, list, path) = (f.next()?, f.next()?, f.next()?);
        let matches = match controllers {
            None => id == "0" && list.is_empty(),
            Some(want) => {
                let mut have: Vec<&str> = list.split(',').collect();
                let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
                have.sort_unstable();
                want.sort_unstable();
                !list.is_empty() && have == want
            }
        };
        matches.then(|| PathBuf::from(path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:32 / /mnt/mem\\040copy rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn parses_hybrid() {
        let m = Mounts::parse(HYBRID);
        assert_eq!(m.mode(), Mode::Hybrid);
        let names: Vec<_> = m.v1.iter().map(|h| h.controllers.join(",")).collect();
        assert_eq!(names, ["cpu,cpuacct", "memory", "name=systemd"]);
        assert_eq!(m.v2.unwrap().point, Path::new("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn parses_v2_and_escapes() {
        let m = Mounts::parse("30 1 0:26 /sub /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n");
        assert_eq!(m.mode(), Mode::V2);
        let v2 = m.v2.unwrap();
        assert_eq!(v2.point, Path::new("/sys/fs/cgroup x"));
        assert_eq!(v2.relative_to_root(Path::new("/sub/a/b")), Path::new("a/b"));
        assert_eq!(Mounts::parse("").mode(), Mode::V1);
    }

    #[test]
    fn own_cgroup_lines() {
        let text = "5:cpuacct,cpu:/x\n4:memory:/process_api/abc\n1:name=systemd:/\n0::/u\n";
        let ctl = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            own_cgroup(text, Some(&ctl(&["cpu", "cpuacct"]))),
            Some("/x".into())
        );
        assert_eq!(
            own_cgroup(text, Some(&ctl(&["memory"]))),
            Some("/process_api/abc".into())
        );
        assert_eq!(
            own_cgroup(text, Some(&ctl(&["name=systemd"]))),
            Some("/".into())
        );
        assert_eq!(own_cgroup(text, None), Some("/u".into()));
        assert_eq!(own_cgroup(text, Some(&ctl(&["pids"]))), None);
    }

    #[test]
    fn escapes_of_no_byte_stay_as_they_are() {
        // Found by fuzz/ (cgroups): `\777` overflowed a u8 (a panic in debug builds).
        let m =
            Mounts::parse("30 1 0:26 / /sys/fs/cgroup\\777\\400\\377 rw - cgroup2 cgroup2 rw\n");
        let point = m.v2.unwrap().point;
        assert_eq!(
            point.as_os_str().as_encoded_bytes(),
            b"/sys/fs/cgroup\\777\\400\xef\xbf\xbd"
        );
    }

    #[test]
    fn an_own_cgroup_outside_the_namespace_root_places_nothing() {
        // Found by fuzz/ (cgroups): `0::/../../x` (our cgroup outside our
        // cgroup namespace's root) put a relative cgroupsPath in /sys/x.
        const V2: &str = "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let place = |own: &str, path: &str| {
            crate::cgroups::fuzz::placement(V2, own, Some(Path::new(path)), "id", false)
        };
        let e = place("0::/../../x\n", "a/b").unwrap_err();
        assert_eq!(
            e.message(),
            "cgroupsPath a/b: our own cgroup ../../x is not below /sys/fs/cgroup"
        );
        let dirs = place("0::/../../x\n", "/a/b").unwrap();
        assert_eq!(dirs[0].1, Path::new("/sys/fs/cgroup/a/b"));
        let dirs = place("0::/s/u\n", "a/b").unwrap();
        assert_eq!(dirs[0].1, Path::new("/sys/fs/cgroup/s/a/b"));
        // Quoted input stays on one line.
        let e = place("", "a\nb").unwrap_err();
        assert!(
            e.message().starts_with(r"cgroupsPath a\nb: no entry"),
            "{e}"
        );
    }
}
