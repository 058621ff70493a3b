//! Loading and validating a bundle's config.json. Every check that can be
//! made before the host is touched is made here, so a bad config never
//! leaves anything behind.

use crate::bail;
use crate::error::{Error, Result, one_line};
use crate::rootfs::options::MountOptions;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A validated config plus the paths derived from the bundle.
pub struct Bundle {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
    /// Each of spec.mounts' options, parsed once here.
    pub mounts: Vec<MountOptions>,
}

/// What config.json says beyond the oci-spec types.
#[derive(Default)]
pub struct Extras {
    /// Fields the parser does not know (JSON paths).
    pub ignored: Vec<String>,
}

/// Parse `<bundle>/config.json` in one pass over its bytes; a type error
/// names the JSON path (`config.json: process.args: invalid type: ...`),
/// fields unknown to the parser are collected rather than dropped.
pub fn load_spec(path: &Path) -> Result<(Spec, Extras)> {
    let text = std::fs::read(path)
        .map_err(|e| Error::new(format!("read {}: {}", path.display(), Error::from(e))))?;
    parse_spec(&text)
}

/// [`load_spec`] on the file's bytes (the fuzz target's entry point).
pub fn parse_spec(text: &[u8]) -> Result<(Spec, Extras)> {
    check_depth(text).map_err(|e| Error::new(format!("config.json: {e}")))?;
    if contains(text, b"SCHED_FLAG_RESET_ON_FORK") || contains(text, b"SCHED_FLAG_DL_OVERRUN") {
        // Rare: the spec's flag names, which oci-spec spells differently.
        let mut raw: Value =
            serde_json::from_slice(text).map_err(|e| Error::new(format!("config.json: {e}")))?;
        if let Some(p) = raw.get_mut("process") {
            normalize_process(p);
        }
        let text = serde_json::to_vec(&raw).map_err(|e| Error::new(e.to_string()))?;
        return parse(&text);
    }
    parse(text)
}

/// The deepest nesting of arrays and objects any document hull reads may
/// have; the runtime spec needs less than 10.
pub const MAX_DEPTH: usize = 64;

/// Refuse JSON nested deeper than [`MAX_DEPTH`] before any parser sees
/// it: no parse, and no skipping of an unknown field, may recurse without
/// bound. One pass over the bytes, strings skipped.
pub fn check_depth(text: &[u8]) -> std::result::Result<(), String> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} levels"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parse a JSON document after [`check_depth`].
pub fn from_json_slice(text: &[u8]) -> std::result::Result<Value, String> {
    check_depth(text)?;
    serde_json::from_slice(text).map_err(|e| one_line(&e.to_string()).into_owned())
}

fn parse(text: &[u8]) -> Result<(Spec, Extras)> {
    let mut ignored = Vec::new();
    // serde_ignored writes `?` for each Option on the way: not part of the JSON path.
    let mut record = |p: serde_ignored::Path| ignored.push(p.to_string().replace(".?", ""));
    let de = &mut serde_json::Deserializer::from_slice(text);
    match serde_ignored::deserialize(de, &mut record) {
        Ok(spec) => Ok((spec, Extras { ignored })),
        Err(_) => Err(parse_error(text)),
    }
}

/// The error of a config that failed to parse, named by its JSON path
/// (`config.json: process.args: invalid type: ...`). A second pass, only
/// on failure, keeps the path tracking out of every create's way.
fn parse_error(text: &[u8]) -> Error {
    let de = &mut serde_json::Deserializer::from_slice(text);
    match serde_path_to_error::deserialize::<_, Spec>(de) {
        Ok(_) => Error::new("config.json: invalid"),
        Err(e) => {
            let at = one_line(&e.path().to_string()).into_owned();
            let inner = one_line(&e.into_inner().to_string()).into_owned();
            if at == "." {
                Error::new(format!("config.json: {inner}"))
            } else {
                Error::new(format!("config.json: {at}: {inner}"))
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// oci-spec 0.10 names two scheduler flags differently from the runtime
/// spec (`SCHED_RESET_ON_FORK`, `SCHED_FLAG_D_L_OVERRUN`): accept the
/// spec's names by translating them before parsing.
pub fn normalize_process(process: &mut Value) {
    if let Some(flags) = process
        .pointer_mut("/scheduler/flags")
        .and_then(Value::as_array_mut)
    {
        for f in flags {
            let fixed = match f.as_str() {
                Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
                Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
                _ => continue,
            };
            *f = Value::from(fixed);
        }
    }
}

pub fn load(bundle: &Path) -> Result<Bundle> {
    let dir = std::path::absolute(bundle)
        .map_err(|e| Error::new(format!("bundle {}: {}", bundle.display(), Error::from(e))))?;
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("bundle {}: not a directory", dir.display()),
        Err(e) => bail!("bundle {}: {}", dir.display(), Error::from(e)),
    }
    let (spec, extras) = load_spec(&dir.join("config.json"))?;
    let (rootfs, mounts) = validate(&spec, &dir)?;
    // Not applied, so said aloud rather than dropped silently.
    for path in &extras.ignored {
        crate::log::warn(&format!(
            "config.json: {path}: not supported by hull, ignored"
        ));
    }
    Ok(Bundle {
        dir,
        rootfs,
        spec,
        mounts,
    })
}

/// Checks what the host can check without changing anything; returns the
/// absolute rootfs path and the mounts' parsed options.
pub fn validate(spec: &Spec, bundle: &Path) -> Result<(PathBuf, Vec<MountOptions>)> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::new("config.json: process: missing (required by create)"))?;
    match process.args() {
        Some(args) if !args.is_empty() => {
            if args[0].is_empty() {
                bail!("config.json: process.args[0]: must not be empty");
            }
        }
        _ => bail!("config.json: process.args: must not be empty"),
    }
    if !process.cwd().is_absolute() {
        bail!(
            "config.json: process.cwd: {:?} is not an absolute path",
            process.cwd()
        );
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::new("config.json: root: missing"))?;
    let rootfs = bundle.join(root.path());
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!(
            "config.json: root.path: {} is not a directory",
            one_line(&rootfs.to_string_lossy())
        ),
        Err(e) => bail!(
            "config.json: root.path: {}: {}",
            one_line(&rootfs.to_string_lossy()),
            Error::from(e)
        ),
    }
    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            bail!(
                "config.json: mounts[{i}].destination: {:?} is not an absolute path",
                m.destination()
            );
        }
        let opts = MountOptions::parse(m)
            .map_err(|e| Error::new(format!("config.json: mounts[{i}]: {e}")))?;
        if !opts.bind_data_ignored.is_empty() {
            crate::log::warn(&format!(
                "config.json: mounts[{i}]: {:?} has no effect on a bind mount (ignored by the kernel, as with runc)",
                opts.bind_data_ignored
            ));
        }
        mounts.push(opts);
    }
    // Setting the host's names would change the host (runc refuses too); a
    // joined uts namespace is the container's, so its names are set, as runc.
    let uts = crate::namespaces::of(spec).any(|n| n.typ() == LinuxNamespaceType::Uts);
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !uts {
        bail!("config.json: hostname: needs a uts namespace (new or joined)");
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !uts {
        bail!("config.json: domainname: needs a uts namespace (new or joined)");
    }
    crate::security::lsm::validate(spec)?;
    crate::security::sysctl::validate(spec)?;
    refuse_unsupported(spec)?;
    if let Some(linux) = spec.linux() {
        validate_namespaces(linux)?;
        if let Some(p) = linux.rootfs_propagation() {
            crate::rootfs::propagation_flag(p)
                .map_err(|e| Error::new(format!("config.json: linux.rootfsPropagation: {e}")))?;
        }
        for (i, d) in linux.devices().iter().flatten().enumerate() {
            if !d.path().is_absolute() {
                bail!(
                    "config.json: linux.devices[{i}].path: {:?} is not an absolute path",
                    d.path()
                );
            }
        }
    }
    Ok((rootfs, mounts))
}

fn validate_namespaces(linux: &oci_spec::runtime::Linux) -> Result<()> {
    let mut seen = Vec::new();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        let typ = ns.typ();
        if seen.contains(&typ) {
            bail!(
                "config.json: linux.namespaces[{i}]: duplicate namespace type {}",
                crate::namespaces::config_name(typ)
            );
        }
        seen.push(typ);
        if let Some(path) = ns.path() {
            crate::namespaces::check_path(typ, path).map_err(|e| {
                let name = crate::namespaces::config_name(typ);
                Error::new(format!("config.json: linux.namespaces[{i}] ({name}): {e}"))
            })?;
        }
    }
    let has_new = |t: LinuxNamespaceType| {
        linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == t && n.path().is_none())
    };
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if has_maps
        && !linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::User)
    {
        bail!("config.json: linux.uidMappings: set without a user namespace");
    }
    if has_new(LinuxNamespaceType::User) && !has_maps {
        bail!("config.json: linux.uidMappings: required for a new user namespace");
    }
    if linux.time_offsets().is_some() && !has_new(LinuxNamespaceType::Time) {
        bail!("config.json: linux.timeOffsets: set without a new time namespace");
    }
    Ok(())
}

/// `hull spec`: runc's default config (as `runc spec` writes it), but
/// named after us, and without inheritable or ambient capabilities
/// (CVE-2022-29162: runc dropped them from its default; 1.1 still writes
/// ambient ones).
pub fn default_spec() -> Spec {
    use oci_spec::runtime::{Capability, LinuxDeviceCgroupBuilder, LinuxResourcesBuilder};
    let mut spec = Spec::default();
    spec.set_hostname(Some("hull".to_string()));
    spec.set_annotations(None);
    if let Some(process) = spec.process_mut() {
        process.set_terminal(Some(true));
        let caps: std::collections::HashSet<Capability> = [
            Capability::AuditWrite,
            Capability::Kill,
            Capability::NetBindService,
        ]
        .into();
        let mut c = oci_spec::runtime::LinuxCapabilities::default();
        c.set_bounding(Some(caps.clone()))
            .set_effective(Some(caps.clone()))
            .set_permitted(Some(caps))
            .set_inheritable(None)
            .set_ambient(None);
        process.set_capabilities(Some(c));
    }
    if let Some(linux) = spec.linux_mut() {
        // runc's namespaces: oci-spec's default adds a cgroup namespace
        // (runc spec does on pure cgroup v2 hosts: see `spec_for_this_host`).
        if let Some(ns) = linux.namespaces_mut() {
            ns.retain(|n| n.typ() != LinuxNamespaceType::Cgroup);
        }
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .ok();
        let resources = LinuxResourcesBuilder::default()
            .devices(deny_all.into_iter().collect::<Vec<_>>())
            .build()
            .ok();
        linux.set_resources(resources);
    }
    spec
}

/// `hull spec`'s config: [`default_spec`], with the cgroup namespace
/// `runc spec` adds on a pure cgroup v2 host.
pub fn spec_for_this_host() -> Spec {
    use oci_spec::runtime::LinuxNamespaceBuilder;
    let mut spec = default_spec();
    let pure_v2 = crate::cgroups::mode().is_ok_and(|m| m == crate::cgroups::Mode::V2);
    if let Some(ns) = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.namespaces_mut().as_mut())
    {
        let cgroup = LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Cgroup)
            .build();
        ns.extend(cgroup.ok().filter(|_| pure_v2));
    }
    spec
}

/// `hull spec --rootless`: what `runc spec --rootless` changes, for a
/// container run by a user who is not root. A user namespace instead of a
/// network namespace (a user cannot make one worth having), the caller's
/// own uid and gid as the container's root, /sys bound from the host (a
/// sysfs needs a network namespace of its own), no uid=/gid= mount
/// options (those ids are not mapped) and no cgroup settings.
pub fn make_rootless(spec: &mut Spec) {
    use oci_spec::runtime::{LinuxIdMappingBuilder, LinuxNamespaceBuilder, Mount};
    let own = |id: u32| {
        LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(id)
            .size(1u32)
            .build()
            .ok()
            .into_iter()
            .collect::<Vec<_>>()
    };
    if let Some(linux) = spec.linux_mut() {
        let mut ns = linux.namespaces().clone().unwrap_or_default();
        ns.retain(|n| {
            !matches!(
                n.typ(),
                LinuxNamespaceType::Network | LinuxNamespaceType::User
            )
        });
        ns.extend(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .ok(),
        );
        linux.set_namespaces(Some(ns));
        linux.set_uid_mappings(Some(own(nix::unistd::geteuid().as_raw())));
        linux.set_gid_mappings(Some(own(nix::unistd::getegid().as_raw())));
        linux.set_resources(None);
    }
    let mounts = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|mut m| {
            if m.destination() == Path::new("/sys") {
                let mut sys = Mount::default();
                let options = ["rbind", "nosuid", "noexec", "nodev", "ro"].map(String::from);
                sys.set_destination("/sys".into())
                    .set_source(Some("/sys".into()))
                    .set_typ(Some("none".into()))
                    .set_options(Some(options.to_vec()));
                return sys;
            }
            let options = m.options().clone().map(|o| {
                let ids = |o: &String| o.starts_with("uid=") || o.starts_with("gid=");
                o.into_iter().filter(|o| !ids(o)).collect()
            });
            m.set_options(options);
            m
        });
    spec.set_mounts(Some(mounts.collect()));
}

/// Linux fields hull does not implement: an error naming them, never a
/// silent success.
fn refuse_unsupported(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        // One user namespace carries both: neither may be left to chance.
        if m.uid_mappings().is_some() != m.gid_mappings().is_some() {
            bail!(
                "config.json: mounts[{i}]: an idmapped mount needs both uidMappings and gidMappings"
            );
        }
    }
    if let Some(linux) = spec.linux() {
        if linux.intel_rdt().is_some() {
            bail!("config.json: linux.intelRdt: Intel RDT is not supported by hull");
        }
        if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
            bail!("config.json: linux.netDevices: moving host interfaces is not supported by hull");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_quoting_input_stay_one_line() {
        // Found by fuzz/ (config): serde quotes an unknown variant as it is.
        let text =
            br#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "ip\nc\u007f"}]}}"#;
        let e = parse_spec(text).err().expect("an unknown namespace type");
        assert!(
            e.message().starts_with(
                r"config.json: linux.namespaces[0].type: unknown variant `ip\nc\u{7f}`"
            ),
            "{e}"
        );
        let text = br#"{"process": {"capabilities": {"bounding": ["CAP_\r"]}}}"#;
        let e = parse_spec(text).err().expect("an unknown capability");
        assert!(!e.message().contains('\r'), "{e}");
        let e = from_json_slice(b"{\"a\": \"\n").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        let text = br#"{"ociVersion": "1.0.2",
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "/no\nsuch"}}"#;
        let (spec, _) = parse_spec(text).unwrap();
        let Err(e) = validate(&spec, Path::new("/")) else {
            panic!("no such rootfs")
        };
        assert_eq!(
            e.message(),
            r"config.json: root.path: /no\nsuch: no such file or directory"
        );
    }
}
