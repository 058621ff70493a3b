//! hugetlb: `linux.resources.hugepageLimits` and huge page usage.

use oci_spec::runtime::LinuxResources;

use super::{Controller, Dir, Locate, Unified, limit_value};
use crate::bail;
use crate::cgroups::files::{self, read_opt, read_u64_or_zero, write};
use crate::cgroups::stats::{Hugetlb, Stats};
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "hugetlb",
    v2: Unified::Listed("hugetlb"),
    set: Some(set),
    stats: Some(stats),
    feature: false,
};

fn set(r: &LinuxResources, _update: bool, at: &dyn Locate) -> Result<()> {
    let Some(limits) = r.hugepage_limits().as_deref().filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let dir = at.require("linux.resources.hugepageLimits")?;
    for l in limits {
        // The size names a file of the cgroup: `hugetlb.<size>.max`.
        if !is_page_size(l.page_size()) {
            bail!(
                "linux.resources.hugepageLimits: pageSize {:?} is not a huge page size (like 2MB or 1GB)",
                l.page_size()
            );
        }
        let field = format!("linux.resources.hugepageLimits[{}]", l.page_size());
        let (limit, rsvd, value) = match dir {
            Dir::V1(_) => (
                format!("hugetlb.{}.limit_in_bytes", l.page_size()),
                format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size()),
                l.limit().max(-1).to_string(),
            ),
            Dir::V2(_) => (
                format!("hugetlb.{}.max", l.page_size()),
                format!("hugetlb.{}.rsvd.max", l.page_size()),
                limit_value(l.limit()),
            ),
        };
        let dir = dir.path();
        write(dir, &limit, &value, &field)?;
        // Reservation accounting (5.7+) also gets the limit, as in runc.
        if dir.join(&rsvd).exists() {
            write(dir, &rsvd, &value, &field)?;
        }
    }
    Ok(())
}

fn stats(dir: Dir, s: &mut Stats) -> Result<()> {
    for size in hugepage_sizes() {
        let h = match dir {
            Dir::V1(dir) => {
                let file = |f: &str| format!("hugetlb.{size}.{f}");
                Hugetlb {
                    usage: read_u64_or_zero(dir, &file("usage_in_bytes"))?,
                    max: read_u64_or_zero(dir, &file("max_usage_in_bytes"))?,
                    failcnt: read_u64_or_zero(dir, &file("failcnt"))?,
                }
            }
            Dir::V2(dir) => {
                let events = read_opt(dir, &format!("hugetlb.{size}.events"))?.unwrap_or_default();
                Hugetlb {
                    usage: read_u64_or_zero(dir, &format!("hugetlb.{size}.current"))?,
                    max: 0,
                    failcnt: files::key(&events, "max").unwrap_or(0),
                }
            }
        };
        s.hugetlb.insert(size, h);
    }
    Ok(())
}

/// The host's huge page sizes as cgroup files name them (`2MB`, `1GB`).
/// A size as the kernel names them: a number and KB, MB or GB.
fn is_page_size(size: &str) -> bool {
    let number = ["KB", "MB", "GB"].iter().find_map(|u| size.strip_suffix(u));
    number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn hugepage_sizes() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<u64> = dir
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .collect();
    sizes.sort_unstable();
    sizes.into_iter().map(page_size_name).collect()
}

fn page_size_name(kb: u64) -> String {
    match kb {
        kb if kb >= 1 << 20 && kb % (1 << 20) == 0 => format!("{}GB", kb >> 20),
        kb if kb >= 1 << 10 && kb % (1 << 10) == 0 => format!("{}MB", kb >> 10),
        kb => format!("{kb}KB"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_names() {
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1048576), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }
}
