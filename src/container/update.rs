//! `update`: change a live container's cgroup limits to a LinuxResources
//! (built from runc's flags by the CLI, or read from a document:
//! `--resources FILE`, `-` for stdin, as podman and containerd send it).
//! A zero value means "leave as is".

use crate::bail;
use crate::error::{Error, Result, one_line};
use crate::state::{StateDir, Status};
use oci_spec::runtime::LinuxResources;
use std::io::Read;
use std::path::Path;

/// A LinuxResources document from a file, or from stdin for `-`. Like
/// runc, only the first JSON value counts and unknown fields are ignored.
pub fn read_resources(source: &str) -> Result<LinuxResources> {
    let what = format!("--resources {source}");
    let mut data = Vec::new();
    let read = if source == "-" {
        std::io::stdin().read_to_end(&mut data).map(drop)
    } else {
        std::fs::File::open(source).and_then(|mut f| f.read_to_end(&mut data).map(drop))
    };
    read.map_err(|e| Error::new(format!("{what}: {}", Error::from(e))))?;
    parse_resources(&data).map_err(|e| Error::new(format!("{what}: {e}")))
}

/// A LinuxResources document's bytes (what [`read_resources`] read).
pub fn parse_resources(data: &[u8]) -> Result<LinuxResources> {
    if data.iter().all(u8::is_ascii_whitespace) {
        bail!("no JSON (empty input)");
    }
    crate::config::check_depth(data).map_err(Error::new)?;
    let mut de = serde_json::Deserializer::from_slice(data);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        match path.as_str() {
            "." => Error::new(one_line(&inner)),
            _ => Error::new(one_line(&format!("{path}: {inner}"))),
        }
    })
}

/// Apply `resources` to a container that has not stopped (runc: `container
/// not running` otherwise). Zero values and unset fields are left alone;
/// an empty device list does not touch the device rules.
pub fn update(root: &Path, id: &str, resources: &LinuxResources) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    if super::status(&dir.path, &st) == Status::Stopped {
        bail!("container not running");
    }
    let kernel = resources
        .memory()
        .as_ref()
        .is_some_and(|m| m.kernel().unwrap_or(0) != 0 || m.kernel_tcp().unwrap_or(0) != 0);
    if kernel {
        crate::log::warn("Kernel memory settings are ignored and will be removed");
    }
    super::pause::cgroup(&st)?.update(resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_documents() {
        // docker's and podman's documents, and runc's decoder leniency.
        let docker = br#"{"memory":{"limit":134217728,"reservation":0,"swap":268435456,"kernel":0},
            "cpu":{"shares":0,"quota":0,"period":0},"pids":{"limit":77},"blockIO":{"weight":0}}"#;
        let r = parse_resources(docker).unwrap();
        assert_eq!(r.pids().unwrap().limit(), 77);
        let r = parse_resources(br#"{"memory":{"limit":1,"swap":2},"bogus":1} trailing"#).unwrap();
        assert_eq!(r.memory().unwrap().swap(), Some(2));
        assert_eq!(
            parse_resources(b" \n").unwrap_err().message(),
            "no JSON (empty input)"
        );
        let e = parse_resources(br#"{"memory":{"limit":"x"}}"#).unwrap_err();
        assert!(e.message().starts_with("memory.limit: invalid type"), "{e}");
        // Found by fuzz/ (update): the quoted variant stays on one line.
        let e = parse_resources(
            br#"{"devices":[{"allow":true,"type":"
"}]}"#,
        )
        .unwrap_err();
        assert!(!e.message().contains('\n'), "{e}");
        assert!(e.message().starts_with("devices[0].type: "), "{e}");
    }
}
