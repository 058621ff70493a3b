//! Capability names as the Command gives them (`NET_ADMIN`, `cap_net_admin`,
//! `ALL`), and Docker's classic default set that `cap_add`/`cap_drop` edit.

use crate::bail;
use crate::error::Result;
use caps::Capability;

/// Docker's default set before `cap_add`/`cap_drop`.
pub const DEFAULT: &[Capability] = &[
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FOWNER,
    Capability::CAP_FSETID,
    Capability::CAP_KILL,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_NET_RAW,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_MKNOD,
    Capability::CAP_AUDIT_WRITE,
    Capability::CAP_SETFCAP,
];

/// A name from the Command: None for `ALL`.
pub fn parse(name: &str) -> Result<Option<Capability>> {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(None);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    match full.parse::<Capability>() {
        Ok(c) => Ok(Some(c)),
        Err(_) => bail!("unknown capability {name:?}"),
    }
}

/// Every capability, in kernel order.
pub fn all() -> Vec<Capability> {
    sorted(caps::all().into_iter())
}

fn sorted(it: impl Iterator<Item = Capability>) -> Vec<Capability> {
    let mut v: Vec<Capability> = it.collect();
    v.sort_by_key(|c| c.index());
    v.dedup();
    v
}

/// Docker's TweakCapabilities on Docker's default set.
pub fn tweak(add: &[String], drop: &[String]) -> Result<Vec<Capability>> {
    tweak_from(DEFAULT, &all(), add, drop)
}

/// Docker's TweakCapabilities: `ALL` in cap_add starts from `every`
/// instead of `base`, `ALL` in cap_drop from nothing; then the named drops
/// are removed and the named adds added.
pub fn tweak_from(
    base: &[Capability],
    every: &[Capability],
    add: &[String],
    drop: &[String],
) -> Result<Vec<Capability>> {
    let adds: Vec<Option<Capability>> = add.iter().map(|c| parse(c)).collect::<Result<_>>()?;
    let drops: Vec<Option<Capability>> = drop.iter().map(|c| parse(c)).collect::<Result<_>>()?;
    let base = if adds.contains(&None) { every } else { base };
    let mut set: Vec<Capability> = if drops.contains(&None) {
        Vec::new()
    } else {
        base.iter()
            .copied()
            .filter(|c| !drops.contains(&Some(*c)))
            .collect()
    };
    set.extend(adds.into_iter().flatten());
    Ok(sorted(set.into_iter()))
}

/// What a privileged container gets: every capability this process holds
/// (its permitted set), as nothing more could be granted.
pub fn held() -> Result<Vec<Capability>> {
    let set = caps::read(None, caps::CapSet::Permitted)
        .map_err(|e| crate::error::Error::new(format!("read own capabilities: {e}")))?;
    Ok(sorted(set.into_iter()))
}

/// `CAP_CHOWN` etc., as config.json spells them.
pub fn names(set: &[Capability]) -> Vec<String> {
    set.iter().map(|c| c.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Capability::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn names_parse() {
        assert_eq!(parse("NET_ADMIN").unwrap(), Some(CAP_NET_ADMIN));
        assert_eq!(parse("cap_net_admin").unwrap(), Some(CAP_NET_ADMIN));
        assert_eq!(parse("all").unwrap(), None);
        assert!(parse("NET_BOGUS").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn default_set() {
        let set = tweak(&[], &[]).unwrap();
        assert_eq!(set.len(), 14);
        assert_eq!(names(&set)[0], "CAP_CHOWN");
        assert!(!set.contains(&CAP_SYS_ADMIN));
    }

    #[test]
    fn add_and_drop() {
        let set = tweak(&s(&["NET_ADMIN"]), &s(&["chown", "CAP_MKNOD"])).unwrap();
        assert!(set.contains(&CAP_NET_ADMIN));
        assert!(!set.contains(&CAP_CHOWN) && !set.contains(&CAP_MKNOD));
        assert_eq!(set.len(), 13);
        // Adding what is there already changes nothing.
        assert_eq!(tweak(&s(&["KILL"]), &[]).unwrap().len(), 14);
    }

    #[test]
    fn all_keywords() {
        assert_eq!(tweak(&[], &s(&["ALL"])).unwrap(), vec![]);
        assert_eq!(
            tweak(&s(&["SYS_ADMIN"]), &s(&["all"])).unwrap(),
            vec![CAP_SYS_ADMIN]
        );
        let everything = tweak(&s(&["ALL"]), &s(&["SYS_ADMIN"])).unwrap();
        assert_eq!(everything.len(), all().len() - 1);
        assert!(!everything.contains(&CAP_SYS_ADMIN));
    }
}
