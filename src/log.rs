//! Errors and warnings as engines read them: `hull: error: ...` and
//! `hull: warning: ...` on stderr, and with `--log FILE` a line per message
//! in that file (`--log-format json`: one `{"level","msg","time"}` object
//! per line; containerd and conmon show the last error line; warnings stay
//! on stderr then, as podman parses the file as one object). `--debug`
//! adds debug lines: to the log file if there is one, else to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub file: Option<PathBuf>,
    pub json: bool,
    pub debug: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

pub fn init(config: Config) {
    let _ = CONFIG.set(config);
}

fn format(cfg: &Config, level: &str, msg: &str) -> String {
    if cfg.json {
        serde_json::json!({"level": level, "msg": msg, "time": crate::state::rfc3339_now(false)})
            .to_string()
    } else {
        format!(
            "time=\"{}\" level={level} msg={msg:?}",
            crate::state::rfc3339_now(false)
        )
    }
}

/// Append to the log file; false when there is none (a container's init
/// cannot reach it once in its root: its lines are lost, never rerouted).
fn write(level: &str, msg: &str) -> bool {
    let Some(cfg) = CONFIG.get() else {
        return false;
    };
    let Some(path) = &cfg.file else {
        return false;
    };
    let line = format(cfg, level, msg);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
    true
}

pub fn error(msg: &str) {
    write("error", msg);
    eprintln!("hull: error: {msg}");
}

pub fn warn(msg: &str) {
    // podman decodes a JSON log as one object: only the fatal error may be
    // in it (the CONTRACT); text logs keep warnings.
    if !CONFIG.get().is_some_and(|c| c.json) {
        write("warning", msg);
    }
    eprintln!("hull: warning: {msg}");
}

/// A debug line, built only with `--debug`: the lifecycle's path does not
/// format messages nobody reads.
pub fn debug(msg: impl FnOnce() -> String) {
    if let Some(cfg) = CONFIG.get().filter(|c| c.debug) {
        let msg = msg();
        if !write("debug", &msg) {
            eprintln!("{}", format(cfg, "debug", &msg));
        }
    }
}
