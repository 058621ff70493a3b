//! `hull --version` and `hull spec`.

use crate::harness::*;
use serde_json::{Value, json};
use std::fs;

#[test]
fn version_prints_three_lines() {
    let t = Test::new();
    let out = t.hull(&["--version"]).ok();
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{out}");
    for (line, prefix) in lines.iter().zip(["hull version ", "commit: ", "spec: "]) {
        let value = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?} lacks {prefix:?}:\n{out}"));
        assert!(!value.trim().is_empty(), "empty value in {line:?}");
    }
    assert!(lines[0].ends_with(env!("CARGO_PKG_VERSION")), "{out}");
}

#[test]
fn spec_writes_a_runnable_config() {
    let t = Test::new();
    let dir = t.host_dir("spec");
    t.hull(&["spec", "--bundle", dir.to_str().unwrap()]).ok();
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    config["root"]["path"] = json!(shared_rootfs());
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["sh", "-c", "echo from-spec"]);
    config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!(format!("HULL_ITEST={}", t.marker())));
    fs::write(&path, config.to_string()).unwrap();
    let out = t
        .hull(&["run", "--bundle", dir.to_str().unwrap(), "spec"])
        .ok();
    assert_eq!(out.stdout, "from-spec\n", "{out}");
    t.hull(&["spec", "--bundle", dir.to_str().unwrap()])
        .fails_with("already exists");
}
