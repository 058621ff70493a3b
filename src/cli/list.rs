//! `list` output: runc's table or a JSON array of states.

use hull::container::{list, state::to_json};
use hull::error::Result;
use std::path::Path;

pub fn print(root: &Path, format: &str, quiet: bool) -> Result<()> {
    let entries = list::list(root)?;
    if quiet {
        for e in &entries {
            println!("{}", e.state.id);
        }
    } else if format == "json" {
        let all: Vec<_> = entries
            .iter()
            .map(|e| to_json(&e.state, e.status))
            .collect();
        println!("{}", serde_json::Value::Array(all));
    } else {
        println!(
            "{:<12} {:<8} {:<10} {:<40} {:<30} OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        );
        for e in &entries {
            let pid = if e.status == hull::state::Status::Stopped {
                0
            } else {
                e.state.pid
            };
            println!(
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
            );
        }
    }
    Ok(())
}
