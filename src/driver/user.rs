//! `user` resolved against the rootfs's /etc/passwd and /etc/group, as
//! libcontainer did for Docker: `name`, `uid`, `uid:gid`, `name:group`;
//! supplementary groups are the groups that list the user by name.

use crate::bail;
use crate::error::{Error, Result};
use std::path::Path;

/// The ids the process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups in /etc/group order (the primary one too if
    /// the user is listed in it, as libcontainer does).
    pub additional_gids: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The rootfs's user database (empty when a file is missing).
#[derive(Debug, Clone, Default)]
pub struct UserDb {
    pub passwd: Vec<PasswdEntry>,
    pub group: Vec<GroupEntry>,
}

impl UserDb {
    /// Read `<rootfs>/etc/passwd` and `<rootfs>/etc/group`. Symlinks in
    /// the image are not followed out of it: a file that is a symlink is
    /// treated as missing.
    pub fn load(rootfs: &Path) -> Result<UserDb> {
        Ok(UserDb {
            passwd: parse_passwd(&read_image_file(rootfs, "etc/passwd")?),
            group: parse_group(&read_image_file(rootfs, "etc/group")?),
        })
    }

    pub fn from_text(passwd: &str, group: &str) -> UserDb {
        UserDb {
            passwd: parse_passwd(passwd),
            group: parse_group(group),
        }
    }

    /// Resolve a Command's `user` (already syntax-checked).
    pub fn resolve(&self, spec: &str) -> Result<ExecUser> {
        let (user, group) = super::command::parse_user(spec)?;
        let user = if user.is_empty() { "0" } else { user };
        let entry = match user.parse::<u32>() {
            Ok(uid) => self.passwd.iter().find(|p| p.uid == uid),
            Err(_) => Some(self.passwd.iter().find(|p| p.name == user).ok_or_else(|| {
                Error::new(format!(
                    "unknown user {user:?} (not in the rootfs's /etc/passwd)"
                ))
            })?),
        };
        // A numeric uid need not exist in the image (gid 0 then).
        let uid = match entry {
            Some(e) => e.uid,
            None => user.parse().unwrap_or(0),
        };
        let mut gid = entry.map_or(0, |e| e.gid);
        if let Some(g) = group {
            gid = match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => match self.group.iter().find(|e| e.name == g) {
                    Some(e) => e.gid,
                    None => bail!("unknown group {g:?} (not in the rootfs's /etc/group)"),
                },
            };
        }
        let mut additional_gids = Vec::new();
        if let Some(e) = entry {
            for g in &self.group {
                if g.members.contains(&e.name) && !additional_gids.contains(&g.gid) {
                    additional_gids.push(g.gid);
                }
            }
        }
        Ok(ExecUser {
            uid,
            gid,
            additional_gids,
        })
    }
}

fn read_image_file(rootfs: &Path, rel: &str) -> Result<String> {
    let path = rootfs.join(rel);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => std::fs::read_to_string(&path)
            .map_err(|e| Error::new(format!("read {}: {}", path.display(), Error::from(e)))),
        Ok(_) => Ok(String::new()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::new(format!(
            "read {}: {}",
            path.display(),
            Error::from(e)
        ))),
    }
}

fn fields(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    fields(text)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    fields(text)
        .filter_map(|f| {
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|m| !m.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n# comment\nuser:x:1000:1000::/home/user:/bin/sh\nbad line\nweb:x:33:33::/:/bin/false\n";
    const GROUP: &str = "root:x:0:\nuser:x:1000:\nwheel:x:10:user,web\naudio:x:29:user\nwww:x:33:\nstaff:x:50: root \n";

    fn db() -> UserDb {
        UserDb::from_text(PASSWD, GROUP)
    }

    fn u(uid: u32, gid: u32, groups: &[u32]) -> ExecUser {
        ExecUser {
            uid,
            gid,
            additional_gids: groups.to_vec(),
        }
    }

    #[test]
    fn forms() {
        let db = db();
        assert_eq!(db.resolve("").unwrap(), u(0, 0, &[50]));
        assert_eq!(db.resolve("root").unwrap(), u(0, 0, &[50]));
        assert_eq!(db.resolve("user").unwrap(), u(1000, 1000, &[10, 29]));
        assert_eq!(db.resolve("1000").unwrap(), u(1000, 1000, &[10, 29]));
        assert_eq!(db.resolve("1000:29").unwrap(), u(1000, 29, &[10, 29]));
        assert_eq!(db.resolve("user:wheel").unwrap(), u(1000, 10, &[10, 29]));
        assert_eq!(db.resolve("web:www").unwrap(), u(33, 33, &[10]));
        // Not in the image: numeric ids are taken as they are.
        assert_eq!(db.resolve("4242").unwrap(), u(4242, 0, &[]));
        assert_eq!(db.resolve("4242:4343").unwrap(), u(4242, 4343, &[]));
    }

    #[test]
    fn unknown_names() {
        let db = db();
        let e = db.resolve("nobody").unwrap_err();
        assert!(e.message().contains("unknown user \"nobody\""), "{e}");
        let e = db.resolve("user:nogroup").unwrap_err();
        assert!(e.message().contains("unknown group \"nogroup\""), "{e}");
        let e = UserDb::default().resolve("user").unwrap_err();
        assert!(e.message().contains("unknown user"), "{e}");
        assert_eq!(UserDb::default().resolve("").unwrap(), u(0, 0, &[]));
    }
}
