//! Errors and warnings as engines read them: text on stderr, and with
//! `--log FILE --log-format json` one `{"level","msg","time"}` object per
//! line in that file (containerd and conmon show the last error line;
//! warnings stay on stderr then, as podman parses the file as one object).

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

fn write(level: &str, msg: &str) {
    let cfg = CONFIG.get().cloned().unwrap_or_default();
    let line = if cfg.json {
        serde_json::json!({"level": level, "msg": msg, "time": crate::state::rfc3339_now(false)})
            .to_string()
    } else {
        format!(
            "time=\"{}\" level={level} msg={msg:?}",
            crate::state::rfc3339_now(false)
        )
    };
    if let Some(path) = &cfg.file
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

pub fn error(msg: &str) {
    write("error", msg);
    eprintln!("hull: {msg}");
}

pub fn warn(msg: &str) {
    // podman decodes a JSON log as one object: only the fatal error may be
    // in it (the CONTRACT); text logs keep warnings.
    if !CONFIG.get().is_some_and(|c| c.json) {
        write("warning", msg);
    }
    eprintln!("hull: warning: {msg}");
}

pub fn debug(msg: &str) {
    if CONFIG.get().is_some_and(|c| c.debug) {
        write("debug", msg);
    }
}
