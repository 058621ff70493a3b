//! `list`: every container under the root, with its live status.

use crate::error::Result;
use crate::state::Status;
use std::path::Path;

pub struct Entry {
    pub state: crate::state::State,
    pub status: Status,
}

pub fn list(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(out);
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    for id in ids {
        // A dir without state (a create that died before its first
        // record, a delete at work) is skipped.
        let Ok(state) = crate::state::read(root, &id) else {
            continue;
        };
        let status = super::status(&root.join(&id), &state);
        out.push(Entry { state, status });
    }
    Ok(out)
}
