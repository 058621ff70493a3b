//! `state`: the OCI state JSON, with the status derived live.

use crate::error::Result;
use crate::state::{State, Status};
use serde_json::{Value, json};
use std::path::Path;

pub const OCI_VERSION: &str = "1.3.0";

pub fn state(root: &Path, id: &str) -> Result<Value> {
    let st = crate::state::read(root, id)?;
    Ok(to_json(&st, super::status(&root.join(id), &st)))
}

pub fn to_json(st: &State, status: Status) -> Value {
    let mut v = to_json_status(st, status.as_str());
    if status == Status::Stopped {
        v["pid"] = json!(0);
    }
    v
}

/// The state with a status of the caller's choosing (`creating` for hooks).
pub fn to_json_status(st: &State, status: &str) -> Value {
    let pid = st.pid;
    let mut v = json!({
        "ociVersion": OCI_VERSION,
        "id": st.id,
        "status": status,
        "pid": pid,
        "bundle": st.bundle,
        "rootfs": st.rootfs,
        "created": st.created,
        "owner": st.owner,
    });
    if !st.annotations.is_empty() {
        v["annotations"] = json!(st.annotations);
    }
    v
}
