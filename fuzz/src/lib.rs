//! The checks behind each fuzz target (`src/bin/<target>.rs`): one
//! function per input hull reads from elsewhere. Each feeds the bytes to
//! the entry point hull itself uses and asserts what must hold of the
//! outcome, beyond "no panic": errors are one line naming the field, an
//! accepted path stays where it must, a compiled seccomp filter loads.
//! A failed assertion is a panic, which AFL++ records as a crash.

use hull::error::Error;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

pub mod cgtree;
pub mod paths;
pub mod seccomp;

/// An error is one line of text (no control characters: a newline in a
/// message would let input forge log lines) opening with one of `prefixes`.
#[track_caller]
pub fn one_line(e: &Error, prefixes: &[&str]) {
    let msg = e.message();
    assert!(
        !msg.chars().any(char::is_control),
        "error with a control character: {msg:?}"
    );
    assert!(
        prefixes.iter().any(|p| msg.starts_with(p)),
        "error naming no field ({prefixes:?}): {msg:?}"
    );
}

/// `path` has only plain names: no `..`, `.`, or root in the middle.
pub fn plain(path: &Path) -> bool {
    path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// A bundle directory with an empty rootfs, made once per process.
pub fn bundle() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hull-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        dir
    })
}

/// config.json: load, validate, and compile (and load) its seccomp
/// profile, as `create` does before it touches the host.
pub fn config(data: &[u8]) {
    const FIELD: &[&str] = &["config.json: "];
    let spec = match hull::config::parse_spec(data) {
        Ok((spec, _)) => spec,
        Err(e) => return one_line(&e, FIELD),
    };
    // validate opens namespace paths to check their type: nothing but
    // procfs is opened here (a FIFO would block, a device could act).
    let mut ns_paths = hull::namespaces::of(&spec).filter_map(|n| n.path().as_ref());
    if ns_paths.any(|p| !p.starts_with("/proc/") || !plain(p.strip_prefix("/").unwrap())) {
        return;
    }
    let mounts = match hull::config::validate(&spec, bundle()) {
        Ok((_, mounts)) => mounts,
        Err(e) => return one_line(&e, FIELD),
    };
    assert_eq!(mounts.len(), spec.mounts().iter().flatten().count());
    let process = spec.process().as_ref().expect("validated: a process");
    assert!(process.args().as_ref().is_some_and(|a| !a[0].is_empty()));
    assert!(process.cwd().is_absolute());
    for m in spec.mounts().iter().flatten() {
        assert!(m.destination().is_absolute(), "{:?}", m.destination());
    }
    if let Some(linux) = spec.linux() {
        for key in linux.sysctl().iter().flatten().map(|(k, _)| k) {
            // What sysctl::apply opens below /proc/sys.
            let rel = PathBuf::from(key.replace('.', "/"));
            assert!(
                plain(&rel) && !rel.as_os_str().is_empty(),
                "sysctl {key:?} names {rel:?}, not a file under /proc/sys"
            );
        }
    }
    match hull::container::create::compile_seccomp(&spec) {
        Ok(Some(filter)) => {
            let profile = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
            seccomp::decides_as_specified(profile.unwrap(), &filter);
            seccomp::load_in_child(&filter)
        }
        Ok(None) => {}
        Err(e) => one_line(&e, &["seccomp: ", "linux.seccomp"]),
    }
}

/// The driver's Command: parse, validate, translate; the config it
/// writes must be one hull loads and accepts.
pub fn driver(data: &[u8]) {
    use hull::driver::{Command, HostFacts, UserDb};
    const FIELD: &[&str] = &["command: "];
    let cmd = match Command::from_json(data) {
        Ok(cmd) => cmd,
        Err(e) => return one_line(&e, FIELD),
    };
    if let Err(e) = cmd.validate() {
        return one_line(&e, FIELD);
    }
    // The host facts, as gather() would find them for this image.
    let users = UserDb::from_text(paths::PASSWD, paths::GROUP);
    let user = match users.resolve(&cmd.user) {
        Ok(u) => u,
        Err(e) => return one_line(&e, &["unknown user ", "unknown group "]),
    };
    let facts = HostFacts {
        user: Some(user),
        held_caps: caps::all().into_iter().collect(),
        devices: Vec::new(),
        join_netns: (cmd.network.as_ref())
            .filter(|n| !n.container_id.is_empty())
            .map(|_| "/proc/self/ns/net".into()),
    };
    let driver = hull::driver::Driver::default();
    let spec = hull::driver::translate(&cmd, &facts, &driver.cgroups_path(&cmd.id))
        .unwrap_or_else(|e| panic!("a valid Command fails to translate: {e}"));
    let cgroups_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let cgroups_path = cgroups_path.expect("a cgroupsPath");
    let leaf = cgroups_path.strip_prefix("/hull/").expect("under /hull");
    assert!(
        plain(leaf) && leaf == Path::new(&cmd.id),
        "{cgroups_path:?}"
    );
    assert_eq!(spec.root().as_ref().unwrap().path(), Path::new(&cmd.rootfs));
    for m in spec.mounts().iter().flatten() {
        let dst = m.destination();
        assert!(dst.is_absolute() && !dst.components().any(|c| c == Component::ParentDir));
    }
    // What write_bundle writes and hull then loads: with the rootfs
    // elsewhere (it need not exist here), it must pass as it is.
    let text = serde_json::to_vec_pretty(&spec).unwrap();
    let (mut loaded, extras) = hull::config::parse_spec(&text)
        .unwrap_or_else(|e| panic!("the driver's config does not load: {e}"));
    assert!(extras.ignored.is_empty(), "{:?}", extras.ignored);
    let mut root = loaded.root().clone().unwrap();
    root.set_path(bundle().join("rootfs"));
    loaded.set_root(Some(root));
    if let Err(e) = hull::config::validate(&loaded, bundle()) {
        panic!("hull refuses the driver's config: {e}");
    }
}

/// An `update --resources` document. Errors name the field; what is
/// accepted is the same after a round trip (engines build these by
/// serializing LinuxResources), and writing it to a cgroup writes in that
/// cgroup only.
pub fn update(data: &[u8]) {
    let r = match hull::container::update::parse_resources(data) {
        Ok(r) => r,
        Err(e) => return one_line(&e, &[""]),
    };
    let text = serde_json::to_vec(&r).unwrap();
    let again = hull::container::update::parse_resources(&text)
        .unwrap_or_else(|e| panic!("resources that do not load again: {e}"));
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&r).unwrap()
    );
    cgtree::update(&r);
}

/// An exec `--process` file, then what exec checks of it.
pub fn process(data: &[u8]) {
    use serde_json::json;
    const WHAT: &str = "process.json";
    let user = || Ok(Some(json!({"uid": 1000, "gid": 1000})));
    let p = match hull::container::process::from_slice(data, WHAT, user) {
        Ok(p) => p,
        Err(e) => return one_line(&e, &["process.json: "]),
    };
    if let Err(e) = hull::security::lsm::validate_process(&p, "exec: process") {
        one_line(&e, &["exec: process."]);
    }
    // The same process, written out and read back.
    let text = serde_json::to_vec(&p).unwrap();
    let again = hull::container::process::from_slice(&text, WHAT, || unreachable!())
        .unwrap_or_else(|e| panic!("a process that does not load again: {e}"));
    assert_eq!(again, p);
}

/// A state.json: what `save` writes of a loaded state loads the same.
pub fn state(data: &[u8]) {
    let st = match hull::state::parse(data) {
        Ok(st) => st,
        Err(e) => return one_line(&Error::new(e), &[""]),
    };
    let text = serde_json::to_vec(&st).unwrap();
    let again = hull::state::parse(&text).unwrap_or_else(|e| panic!("state does not reload: {e}"));
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&st).unwrap()
    );
}

/// Splits fuzz input into `n` NUL-separated parts (missing ones empty).
pub fn parts(data: &[u8], n: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let mut v: Vec<String> = text.splitn(n, '\0').map(String::from).collect();
    v.resize(n, String::new());
    v
}

/// mountinfo, /proc/self/cgroup, a cgroupsPath and an ID (NUL apart):
/// the container's cgroup is a directory strictly below each mount
/// point, never the root cgroup nor anywhere else.
pub fn cgroups(data: &[u8]) {
    let p = parts(data, 5);
    let (mountinfo, own, path, id, driver) = (&p[0], &p[1], &p[2], &p[3], &p[4]);
    let systemd = driver.starts_with('s');
    let path = (!path.is_empty()).then(|| Path::new(path.as_str()));
    let dirs = match hull::cgroups::fuzz::placement(mountinfo, own, path, id, systemd) {
        Ok(dirs) => dirs,
        Err(e) => return one_line(&e, &[""]),
    };
    for (mount, dir) in dirs {
        let below = dir
            .strip_prefix(&mount)
            .unwrap_or_else(|_| panic!("cgroup {dir:?} is not under its mount point {mount:?}"));
        assert!(
            plain(below) && !below.as_os_str().is_empty(),
            "cgroup {dir:?} leaves its mount point {mount:?}"
        );
    }
}

/// Ids for the passwd/group files below.
pub fn passwd(data: &[u8]) {
    let p = parts(data, 3);
    let db = hull::driver::UserDb::from_text(&p[0], &p[1]);
    let spec = &p[2];
    let Ok(user) = db.resolve(spec) else {
        return;
    };
    let (name, group) = spec.split_once(':').unwrap_or((spec, ""));
    if let Ok(uid) = name.parse::<u32>() {
        assert_eq!(user.uid, uid, "{spec:?}");
    }
    if let Ok(gid) = group.parse::<u32>() {
        assert_eq!(user.gid, gid, "{spec:?}");
    }
    let mut gids = user.additional_gids.clone();
    gids.sort_unstable();
    gids.dedup();
    assert_eq!(gids.len(), user.additional_gids.len(), "duplicate groups");
}

/// Bytes from the system bus: a message or an error, never a panic, a
/// hang or an allocation beyond the message.
pub fn dbus(data: &[u8]) {
    match hull::cgroups::fuzz::dbus_message(data) {
        Ok(values) => assert!(values <= data.len()),
        Err(e) => one_line(&e, &["system bus: "]),
    }
}

/// A target's checks on one input.
pub type Check = fn(&[u8]);

/// Every target by name (as `src/bin/` has them).
pub const TARGETS: [(&str, Check); 10] = [
    ("config", config),
    ("seccomp", seccomp::profile),
    ("driver", driver),
    ("update", update),
    ("process", process),
    ("state", state),
    ("cgroups", cgroups),
    ("passwd", passwd),
    ("paths", paths::paths),
    ("dbus", dbus),
];

pub fn target(name: &str) -> Option<Check> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
