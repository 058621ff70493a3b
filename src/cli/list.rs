//! `list` output: runc's table or a JSON array of states.

use super::out::outln;
use hull::container::list;
use hull::error::Result;
use std::collections::HashMap;
use std::path::Path;

/// One container of `list --format json`, its keys in runc's order.
#[derive(serde::Serialize)]
struct Listed<'a> {
    #[serde(rename = "ociVersion")]
    oci_version: &'a str,
    id: &'a str,
    pid: i32,
    status: &'a str,
    bundle: &'a Path,
    rootfs: &'a Path,
    created: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    annotations: &'a HashMap<String, String>,
    owner: &'a str,
}

impl<'a> Listed<'a> {
    fn of(e: &'a list::Entry) -> Listed<'a> {
        let st = &e.state;
        Listed {
            oci_version: hull::container::state::OCI_VERSION,
            id: &st.id,
            pid: if e.status == hull::state::Status::Stopped {
                0
            } else {
                st.pid
            },
            status: e.status.as_str(),
            bundle: &st.bundle,
            rootfs: &st.rootfs,
            created: &st.created,
            annotations: &st.annotations,
            owner: if st.owner.is_empty() {
                "root"
            } else {
                &st.owner
            },
        }
    }
}

pub fn print(root: &Path, format: &str, quiet: bool) -> Result<()> {
    let entries = list::list(root)?;
    if quiet {
        for e in &entries {
            outln!("{}", e.state.id)?;
        }
    } else if format == "json" {
        let all: Vec<Listed> = entries.iter().map(Listed::of).collect();
        outln!("{}", serde_json::to_string(&all).unwrap_or_default())?;
    } else {
        outln!(
            "{:<12} {:<8} {:<10} {:<40} {:<30} OWNER",
            "ID",
            "PID",
            "STATUS",
            "BUNDLE",
            "CREATED"
        )?;
        for e in &entries {
            let pid = if e.status == hull::state::Status::Stopped {
                0
            } else {
                e.state.pid
            };
            outln!(
                "{:<12} {:<8} {:<10} {:<40} {:<30} {}",
                e.state.id,
                pid,
                e.status.as_str(),
                e.state.bundle.display(),
                e.state.created,
                if e.state.owner.is_empty() {
                    "root"
                } else {
                    &e.state.owner
                }
            )?;
        }
    }
    Ok(())
}
