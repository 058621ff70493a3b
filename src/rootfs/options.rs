//! Mount options as config.md and mount(8) name them: flags for mount(2),
//! propagation changes, recursive attributes (mount_setattr) and the
//! filesystem's own data string.

use crate::bail;
use crate::error::Result;
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;

/// MOUNT_ATTR_* bits for mount_setattr(2).
pub mod attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    pub const ATIME_MASK: u64 = 0x70;
    pub const RELATIME: u64 = 0x0;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const NODIRATIME: u64 = 0x80;
    pub const NOSYMFOLLOW: u64 = 0x200000;
}

const MS_NOSYMFOLLOW: u64 = 256;

/// (name, clears the flag?, flag)
const FLAGS: &[(&str, bool, u64)] = &[
    ("defaults", false, 0),
    ("ro", false, MsFlags::MS_RDONLY.bits()),
    ("rw", true, MsFlags::MS_RDONLY.bits()),
    ("nosuid", false, MsFlags::MS_NOSUID.bits()),
    ("suid", true, MsFlags::MS_NOSUID.bits()),
    ("nodev", false, MsFlags::MS_NODEV.bits()),
    ("dev", true, MsFlags::MS_NODEV.bits()),
    ("noexec", false, MsFlags::MS_NOEXEC.bits()),
    ("exec", true, MsFlags::MS_NOEXEC.bits()),
    ("sync", false, MsFlags::MS_SYNCHRONOUS.bits()),
    ("async", true, MsFlags::MS_SYNCHRONOUS.bits()),
    ("dirsync", false, MsFlags::MS_DIRSYNC.bits()),
    ("remount", false, MsFlags::MS_REMOUNT.bits()),
    ("mand", false, MsFlags::MS_MANDLOCK.bits()),
    ("nomand", true, MsFlags::MS_MANDLOCK.bits()),
    ("noatime", false, MsFlags::MS_NOATIME.bits()),
    ("atime", true, MsFlags::MS_NOATIME.bits()),
    ("nodiratime", false, MsFlags::MS_NODIRATIME.bits()),
    ("diratime", true, MsFlags::MS_NODIRATIME.bits()),
    ("relatime", false, MsFlags::MS_RELATIME.bits()),
    ("norelatime", true, MsFlags::MS_RELATIME.bits()),
    ("strictatime", false, MsFlags::MS_STRICTATIME.bits()),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME.bits()),
    ("iversion", false, MsFlags::MS_I_VERSION.bits()),
    ("noiversion", true, MsFlags::MS_I_VERSION.bits()),
    ("lazytime", false, MsFlags::MS_LAZYTIME.bits()),
    ("nolazytime", true, MsFlags::MS_LAZYTIME.bits()),
    ("silent", false, MsFlags::MS_SILENT.bits()),
    ("loud", true, MsFlags::MS_SILENT.bits()),
    ("nosymfollow", false, MS_NOSYMFOLLOW),
    ("symfollow", true, MS_NOSYMFOLLOW),
    ("bind", false, MsFlags::MS_BIND.bits()),
    (
        "rbind",
        false,
        MsFlags::MS_BIND.bits() | MsFlags::MS_REC.bits(),
    ),
];

const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// (name, clears?, MOUNT_ATTR bits): recursive variants applied to the whole subtree.
const RECURSIVE: &[(&str, bool, u64)] = &[
    ("rro", false, attr::RDONLY),
    ("rrw", true, attr::RDONLY),
    ("rnosuid", false, attr::NOSUID),
    ("rsuid", true, attr::NOSUID),
    ("rnodev", false, attr::NODEV),
    ("rdev", true, attr::NODEV),
    ("rnoexec", false, attr::NOEXEC),
    ("rexec", true, attr::NOEXEC),
    ("rnodiratime", false, attr::NODIRATIME),
    ("rdiratime", true, attr::NODIRATIME),
    ("rrelatime", false, attr::RELATIME),
    ("rnorelatime", true, attr::RELATIME),
    ("rnoatime", false, attr::NOATIME),
    ("ratime", true, attr::NOATIME),
    ("rstrictatime", false, attr::STRICTATIME),
    ("rnostrictatime", true, attr::STRICTATIME),
    ("rnosymfollow", false, attr::NOSYMFOLLOW),
    ("rsymfollow", true, attr::NOSYMFOLLOW),
];

/// podman's extension option (see [`MountOptions::tmpcopyup`]).
const TMPCOPYUP: &str = "tmpcopyup";

/// Every option name [`MountOptions::parse`] recognises itself (the
/// tables above plus tmpcopyup; anything else goes to the filesystem's
/// data string): `hull features` reports these as mountOptions.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = FLAGS
        .iter()
        .map(|(n, _, _)| *n)
        .chain(PROPAGATION.iter().map(|(n, _)| *n))
        .chain(RECURSIVE.iter().map(|(n, _, _)| *n))
        .chain([TMPCOPYUP, "idmap", "ridmap"])
        .collect();
    names.sort_unstable();
    names
}

/// Propagation flag for a name (`rslave`, ...).
pub fn propagation(name: &str) -> Option<MsFlags> {
    PROPAGATION
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub attr_set: u64,
    pub attr_clr: u64,
    pub data: String,
    /// podman's extension: copy what the image has at the destination into the new tmpfs.
    pub tmpcopyup: bool,
    /// Filesystem data options given to a bind mount, which has no use for
    /// them (validation warns about them).
    pub bind_data_ignored: String,
    /// An idmapped bind mount (`idmap`, or the mount's own id mappings);
    /// `ridmap`: its submounts too.
    pub idmap: Option<Idmap>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idmap {
    Plain,
    Recursive,
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn parse(m: &Mount) -> Result<MountOptions> {
        let mut o = MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            attr_set: 0,
            attr_clr: 0,
            data: String::new(),
            tmpcopyup: false,
            bind_data_ignored: String::new(),
            idmap: None,
        };
        let mut flags = 0u64;
        let typ = m.typ().as_deref().unwrap_or("");
        if typ == "bind" {
            flags |= MsFlags::MS_BIND.bits();
        }
        let mut data = Vec::new();
        for opt in m.options().iter().flatten() {
            let opt = opt.as_str();
            if let Some((_, clear, f)) = FLAGS.iter().find(|(n, _, _)| *n == opt) {
                if *clear {
                    flags &= !f;
                } else {
                    flags |= f;
                }
            } else if let Some(p) = propagation(opt) {
                o.propagation.push(p);
            } else if let Some((_, clear, a)) = RECURSIVE.iter().find(|(n, _, _)| *n == opt) {
                if *a & attr::ATIME_MASK != 0 || *a == attr::RELATIME && !clear {
                    o.attr_clr |= attr::ATIME_MASK;
                }
                if *clear {
                    o.attr_clr |= a;
                } else {
                    o.attr_set |= a;
                }
            } else if opt == TMPCOPYUP {
                o.tmpcopyup = true;
            } else if opt == "idmap" {
                o.idmap = Some(Idmap::Plain);
            } else if opt == "ridmap" {
                o.idmap = Some(Idmap::Recursive);
            } else {
                data.push(opt);
            }
        }
        o.flags = MsFlags::from_bits_retain(flags);
        // A bind mount ignores the data string. A filesystem's `key=value`
        // option there is passed on and has no effect, as with runc (the
        // config is validated with a warning, see `bind_data_ignored`); an
        // unknown bare word is most likely a misspelt flag: an error.
        if o.is_bind()
            && let Some(word) = data.iter().find(|d| !d.contains('='))
        {
            bail!("unknown mount option {word:?} for a bind mount");
        }
        // Mappings of its own make a mount idmapped (spec v1.3).
        if o.idmap.is_none() && (m.uid_mappings().is_some() || m.gid_mappings().is_some()) {
            o.idmap = Some(Idmap::Plain);
        }
        if o.idmap.is_some() && !o.is_bind() {
            bail!(
                "idmapped mounts (idmap, ridmap, uidMappings) need a bind mount, not type {typ:?}"
            );
        }
        if o.tmpcopyup && typ != "tmpfs" {
            bail!("mount option \"tmpcopyup\" needs type tmpfs, not {typ:?}");
        }
        o.data = data.join(",");
        if o.is_bind() {
            o.bind_data_ignored = std::mem::take(&mut o.data);
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn parse(typ: &str, opts: &[&str]) -> Result<MountOptions> {
        let m = MountBuilder::default()
            .destination("/x")
            .typ(typ)
            .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap();
        MountOptions::parse(&m)
    }

    #[test]
    fn flags_and_data() {
        let o = parse("tmpfs", &["nosuid", "noexec", "mode=755", "size=64k"]).unwrap();
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data, "mode=755,size=64k");
        assert!(!o.is_bind());
    }

    #[test]
    fn rw_clears_ro() {
        let o = parse("tmpfs", &["ro", "rw"]).unwrap();
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn bind_and_propagation() {
        let o = parse("none", &["rbind", "rprivate", "ro"]).unwrap();
        assert!(o.is_bind() && o.flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(parse("bind", &[]).unwrap().is_bind());
    }

    #[test]
    fn unknown_option_on_bind_is_refused() {
        let e = parse("bind", &["rbind", "bogus"]).unwrap_err();
        assert!(e.message().contains("\"bogus\""), "{e}");
    }

    #[test]
    fn recursive_attrs() {
        let o = parse("bind", &["rbind", "rro", "rnosuid"]).unwrap();
        assert_eq!(o.attr_set, attr::RDONLY | attr::NOSUID);
    }

    #[test]
    fn tmpcopyup() {
        assert!(parse("tmpfs", &["tmpcopyup"]).unwrap().tmpcopyup);
        assert!(parse("bind", &["rbind", "tmpcopyup"]).is_err());
    }
}
