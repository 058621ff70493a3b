//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup
//! is a transient scope that systemd makes, accounts and removes, asked
//! for over the system bus as runc does; rootless, of the user's own
//! `systemd --user` over the user's bus, in the subtree systemd delegates
//! to it (runc's rootless systemd driver). Its limits go to systemd as unit
//! properties and, through the cgroupfs manager, into the scope's own
//! files (which also carry what systemd cannot express).
//!
//! Pure cgroup v2 only: on v1 and hybrid hosts systemd's properties have
//! other names and other files; hull refuses there rather than guess.

mod dbus;
mod properties;

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::Mode;
use crate::bail;
use crate::error::{Error, Result};
use dbus::{Bus, Message, Value};

/// The D-Bus decoder on bytes as received from the bus; the number of
/// body values (the fuzz target's entry point, see `cgroups::fuzz`).
pub(super) fn decode_dbus(bytes: &[u8]) -> Result<usize> {
    dbus::decode_received(bytes).map(|m| m.body.len())
}

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// A container's scope unit.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scope {
    /// `hull-<id>.scope`.
    pub unit: String,
    /// The slice holding it: `system.slice`.
    pub slice: String,
    /// Whether the user's systemd holds it (rootless), not the system's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user: bool,
}

/// Whether this host can have the driver: systemd is PID 1 (sd_booted's
/// test) and cgroup v2 is all there is.
pub fn check_host(mode: Mode) -> Result<()> {
    if !Path::new("/run/systemd/system").is_dir() {
        bail!("--systemd-cgroup: systemd is not running on this host");
    }
    let layout = match mode {
        Mode::V2 => return Ok(()),
        Mode::Hybrid => "hybrid: v1 hierarchies beside cgroup2",
        Mode::V1 => "cgroup v1",
    };
    bail!(
        "--systemd-cgroup: hull drives systemd only on pure cgroup v2 hosts (this one is {layout}); use the cgroupfs driver"
    )
}

impl Scope {
    /// The scope for `linux.cgroupsPath` in runc's systemd form
    /// `slice:prefix:name` (empty: `system.slice:hull:<id>`), and the
    /// path of its cgroup below the cgroup2 mount
    /// (`/system.slice/hull-<id>.scope`). `user`: the user's systemd's
    /// (rootless), whose default slice is `user.slice`, and whose path is
    /// below its own cgroup (see [`Scope::in_user_manager`]).
    pub fn parse(cgroups_path: Option<&Path>, id: &str, user: bool) -> Result<(Scope, PathBuf)> {
        let field = "linux.cgroupsPath";
        let text = match cgroups_path {
            Some(p) => p.to_str().ok_or_else(|| Error::at(field, "is not UTF-8"))?,
            None => "",
        };
        let default_slice = if user { "user.slice" } else { "system.slice" };
        let default = format!("{default_slice}:hull:{id}");
        let text = if text.is_empty() { &default } else { text };
        let parts: Vec<&str> = text.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(Error::at(
                field,
                format!("{text:?}: the systemd cgroup driver wants \"slice:prefix:name\""),
            ));
        };
        if name.is_empty() || text.contains('/') {
            return Err(Error::at(
                field,
                format!("{text:?}: a unit name, without \"/\", is needed after the last \":\""),
            ));
        }
        if name.ends_with(".slice") {
            return Err(Error::at(
                field,
                format!(
                    "{text:?}: a container needs a scope, not the slice {}",
                    crate::error::one_line(name)
                ),
            ));
        }
        let slice = if slice.is_empty() {
            default_slice
        } else {
            slice
        };
        let unit = match prefix {
            "" => format!("{name}.scope"),
            _ => format!("{prefix}-{name}.scope"),
        };
        let mut path = expand_slice(slice).map_err(|e| Error::at(field, e))?;
        path.push(&unit);
        let scope = Scope {
            unit,
            slice: slice.to_string(),
            user,
        };
        Ok((scope, path))
    }

    /// A user's scope's `path` (from [`Scope::parse`]) as the cgroup2
    /// mount sees it: below the user's systemd's own cgroup
    /// (`/user.slice/user-UID.slice/user@UID.service`), which it asks.
    pub fn in_user_manager(&self, path: &Path) -> Result<PathBuf> {
        let mut bus = Bus::user()?;
        let reply = bus.call(
            SYSTEMD,
            MANAGER_PATH,
            "org.freedesktop.DBus.Properties",
            "Get",
            &[
                Value::Str(MANAGER.into()),
                Value::Str("ControlGroup".into()),
            ],
        )?;
        let own = match reply.first() {
            Some(Value::Variant(v)) => v.as_str().unwrap_or(""),
            _ => "",
        };
        if !own.starts_with('/') {
            bail!("user bus: the user's systemd has no cgroup of its own ({reply:?})");
        }
        Ok(Path::new(own).join(path.strip_prefix("/").unwrap_or(path)))
    }

    /// The bus of the systemd holding the scope.
    fn bus(&self) -> Result<Bus> {
        if self.user {
            Bus::user()
        } else {
            Bus::system()
        }
    }

    /// Start the scope with `pid` in it and `resources` as its
    /// properties; returns once systemd has made it. A failed scope of
    /// the same name (a leftover) is reset and the start tried again.
    pub fn start(&self, pid: i32, resources: &LinuxResources) -> Result<()> {
        let what = |e: Error| Error::new(format!("systemd: start {}: {e}", self.unit));
        let mut props = vec![
            (
                "Description",
                Value::Str(format!("hull container {}", self.unit)),
            ),
            ("Slice", Value::Str(self.slice.clone())),
            ("Delegate", Value::Bool(true)),
            (
                "PIDs",
                Value::Array("u".into(), vec![Value::U32(pid as u32)]),
            ),
            ("MemoryAccounting", Value::Bool(true)),
            ("CPUAccounting", Value::Bool(true)),
            ("IOAccounting", Value::Bool(true)),
            ("TasksAccounting", Value::Bool(true)),
            ("DefaultDependencies", Value::Bool(false)),
        ];
        props.extend(properties::from_resources(resources, false)?);
        let mut bus = self.bus().map_err(what)?;
        watch_jobs(&mut bus).map_err(what)?;
        let args = [
            Value::Str(self.unit.clone()),
            Value::Str("replace".into()),
            property_array(props),
            Value::Array("(sa(sv))".into(), Vec::new()),
        ];
        let job = match manager(&mut bus, "StartTransientUnit", &args) {
            Err(e) if e.message().contains("org.freedesktop.systemd1.UnitExists") => {
                let _ = self.reset_failed(&mut bus);
                manager(&mut bus, "StartTransientUnit", &args)
            }
            r => r,
        };
        let result = job.and_then(|job| wait_job(&mut bus, &job));
        match result.map_err(what)?.as_str() {
            "done" => Ok(()),
            other => {
                let _ = self.reset_failed(&mut bus);
                bail!("systemd: start {}: the job ended {other:?}", self.unit)
            }
        }
    }

    /// Give systemd the properties for `resources` (`update`: as for
    /// `hull update`, zero and absent values left alone).
    pub fn set(&self, resources: &LinuxResources, update: bool) -> Result<()> {
        let props = properties::from_resources(resources, update)?;
        if props.is_empty() {
            return Ok(());
        }
        let what = |e: Error| Error::new(format!("systemd: set properties of {}: {e}", self.unit));
        let mut bus = self.bus().map_err(what)?;
        let args = [
            Value::Str(self.unit.clone()),
            Value::Bool(true), // runtime: gone with the unit
            property_array(props),
        ];
        manager(&mut bus, "SetUnitProperties", &args)
            .map(drop)
            .map_err(what)
    }

    /// Stop the scope and wait until systemd has; a scope already gone
    /// (systemd removes an empty one by itself) is fine.
    pub fn stop(&self) -> Result<()> {
        let what = |e: Error| Error::new(format!("systemd: stop {}: {e}", self.unit));
        let mut bus = self.bus().map_err(what)?;
        watch_jobs(&mut bus).map_err(what)?;
        let args = [Value::Str(self.unit.clone()), Value::Str("replace".into())];
        let result = match manager(&mut bus, "StopUnit", &args) {
            Err(e) if e.message().contains("org.freedesktop.systemd1.NoSuchUnit") => Ok(()),
            r => r.and_then(|job| wait_job(&mut bus, &job)).map(drop),
        };
        // A scope that failed stays loaded until reset.
        let _ = self.reset_failed(&mut bus);
        result.map_err(what)
    }

    fn reset_failed(&self, bus: &mut Bus) -> Result<()> {
        manager(bus, "ResetFailedUnit", &[Value::Str(self.unit.clone())]).map(drop)
    }
}

/// systemd's slice nesting: `a-b-c.slice` is `/a.slice/a-b.slice/a-b-c.slice`;
/// `-.slice` is the root.
fn expand_slice(slice: &str) -> std::result::Result<PathBuf, String> {
    let bad = || format!("{slice:?} is not a valid slice name");
    let name = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if name.is_empty() || slice.contains('/') {
        return Err(bad());
    }
    let mut path = PathBuf::from("/");
    if name == "-" {
        return Ok(path);
    }
    let mut prefix = String::new();
    for part in name.split('-') {
        if part.is_empty() {
            return Err(bad());
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
        prefix.push('-');
    }
    Ok(path)
}

fn property_array(props: Vec<properties::Property>) -> Value {
    let props = props
        .into_iter()
        .map(|(name, v)| Value::Struct(vec![Value::Str(name.into()), Value::Variant(v.into())]));
    Value::Array("(sv)".into(), props.collect())
}

/// Call a method of systemd's manager; the job path of those that make a
/// job, else "".
fn manager(bus: &mut Bus, member: &str, args: &[Value]) -> Result<String> {
    let reply = bus.call(SYSTEMD, MANAGER_PATH, MANAGER, member, args)?;
    Ok(reply.first().and_then(Value::as_str).unwrap_or("").into())
}

/// Have the bus route systemd's JobRemoved to us (before the job starts,
/// so that its end is not missed). systemd sends it to the job's
/// requester without a Subscribe.
fn watch_jobs(bus: &mut Bus) -> Result<()> {
    let rule = format!(
        "type='signal',sender='{SYSTEMD}',path='{MANAGER_PATH}',interface='{MANAGER}',member='JobRemoved'"
    );
    bus.call(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "AddMatch",
        &[Value::Str(rule)],
    )
    .map(drop)
}

/// Wait for `job` to end; its result (`done`, `failed`, `canceled`, ...).
fn wait_job(bus: &mut Bus, job: &str) -> Result<String> {
    let ours = |m: &Message| {
        m.member.as_deref() == Some("JobRemoved")
            && m.body.get(1).and_then(Value::as_str) == Some(job)
    };
    let m = bus.wait_signal(dbus::TIMEOUT, ours)?;
    Ok(m.body.get(3).and_then(Value::as_str).unwrap_or("").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_nest_at_their_dashes() {
        assert_eq!(expand_slice("-.slice").unwrap(), Path::new("/"));
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            Path::new("/system.slice")
        );
        assert_eq!(
            expand_slice("kubepods-besteffort-pod1.slice").unwrap(),
            Path::new("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice")
        );
        for bad in ["a--b.slice", "-a.slice", "a.scope", ".slice", "a/b.slice"] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_slice_named_in_an_error_stays_on_one_line() {
        // Found by fuzz/ (cgroups): the slice was quoted as it is.
        let e = Scope::parse(Some(Path::new("s:p:a\nb.slice")), "c1", false).unwrap_err();
        assert_eq!(
            e.message(),
            r#"linux.cgroupsPath: "s:p:a\nb.slice": a container needs a scope, not the slice a\nb.slice"#
        );
    }

    #[test]
    fn cgroups_paths_name_the_scope_as_runc() {
        let (s, p) = Scope::parse(None, "c1", false).unwrap();
        assert_eq!(
            (s.unit.as_str(), s.slice.as_str()),
            ("hull-c1.scope", "system.slice")
        );
        assert_eq!(p, Path::new("/system.slice/hull-c1.scope"));
        let (s, p) =
            Scope::parse(Some(Path::new("machine-pod.slice:libpod:abc")), "c1", false).unwrap();
        assert_eq!(s.unit, "libpod-abc.scope");
        assert_eq!(
            p,
            Path::new("/machine.slice/machine-pod.slice/libpod-abc.scope")
        );
        let (s, _) = Scope::parse(Some(Path::new(":docker:abc")), "c1", false).unwrap();
        assert_eq!(
            (s.unit.as_str(), s.slice.as_str()),
            ("docker-abc.scope", "system.slice")
        );
        for bad in [
            "/sys/fs/cgroup/x",
            "a.slice:b",
            "a.slice:p:",
            "a.slice:p:x.slice",
            "a.slice:p:x/y",
        ] {
            let e = Scope::parse(Some(Path::new(bad)), "c1", true).unwrap_err();
            assert_eq!(e.field(), Some("linux.cgroupsPath"), "{bad}: {e}");
        }
        // The user's systemd: user.slice by default, as runc rootless.
        let (s, p) = Scope::parse(None, "c1", true).unwrap();
        assert_eq!((s.slice.as_str(), s.user), ("user.slice", true));
        assert_eq!(p, Path::new("/user.slice/hull-c1.scope"));
        let (s, _) = Scope::parse(Some(Path::new(":libpod:abc")), "c1", true).unwrap();
        assert_eq!(s.slice, "user.slice");
    }
}
