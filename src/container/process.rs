//! The process `exec` runs, as runc builds it: a process.json given
//! whole (`--process`, as containerd and conmon send), or the container's
//! own process with the command and runc's flags on top.

use crate::bail;
use crate::error::{Error, Result, one_line};
use oci_spec::runtime::Process;
use serde_json::{Value, json};
use std::path::Path;

/// runc's exec flags that shape the process.
#[derive(Default, Debug, Clone)]
pub struct Flags {
    pub args: Vec<String>,
    pub tty: bool,
    pub cwd: Option<String>,
    /// K=V each; one given again replaces the config's.
    pub env: Vec<String>,
    /// UID[:GID]
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    /// Capabilities to add, with or without the CAP_ prefix.
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
}

/// The container's own process, as its kept config has it.
fn container_process(root: &Path, id: &str) -> Result<Value> {
    crate::state::read(root, id)?;
    let (spec, _) = crate::config::load_spec(&root.join(id).join("config.json"))?;
    Ok(serde_json::to_value(spec.process()).unwrap_or(Value::Null))
}

fn parse(mut v: Value, what: &str) -> Result<Process> {
    crate::config::normalize_process(&mut v);
    serde_path_to_error::deserialize(v).map_err(|e| {
        let detail = format!("{}: {}", e.path(), e.inner());
        Error::new(format!("{what}: {}", one_line(&detail)))
    })
}

/// `--process FILE`: the whole process; as runc, one without a user runs
/// as the container's.
pub fn from_file(root: &Path, id: &str, file: &Path) -> Result<Process> {
    let text = std::fs::read(file)
        .map_err(|e| Error::new(format!("read {}: {}", file.display(), Error::from(e))))?;
    let user = || Ok(container_process(root, id)?.get("user").cloned());
    from_slice(&text, &file.display().to_string(), user)
}

/// [`from_file`] on the file's bytes, named `what` in errors; `user`
/// gives the container's user, asked for only when the process has none
/// (the fuzz target's entry point).
pub fn from_slice(
    text: &[u8],
    what: &str,
    user: impl FnOnce() -> Result<Option<Value>>,
) -> Result<Process> {
    let mut v: Value =
        crate::config::from_json_slice(text).map_err(|e| Error::new(format!("{what}: {e}")))?;
    if v.is_object() && v.get("user").is_none() {
        v["user"] = user()?.unwrap_or_else(|| json!({"uid": 0, "gid": 0}));
    }
    parse(v, what)
}

/// The container's process with `flags` applied on top.
pub fn from_flags(root: &Path, id: &str, flags: &Flags) -> Result<Process> {
    if flags.args.is_empty() {
        bail!("exec: no command given (ARGS or --process)");
    }
    let mut p = container_process(root, id)?;
    if !p.is_object() {
        p = json!({"cwd": "/", "user": {"uid": 0, "gid": 0}});
    }
    p["args"] = json!(flags.args);
    p["terminal"] = json!(flags.tty);
    if let Some(cwd) = &flags.cwd {
        if !cwd.starts_with('/') {
            bail!("exec: --cwd {cwd:?}: must be an absolute path");
        }
        p["cwd"] = json!(cwd);
    }
    if !flags.env.is_empty() {
        let key = |kv: &str| kv.split_once('=').map_or(kv, |(k, _)| k).to_string();
        let mut env: Vec<Value> = p["env"].as_array().cloned().unwrap_or_default();
        for kv in &flags.env {
            // A variable given again replaces the config's, as in runc.
            env.retain(|e| e.as_str().is_none_or(|e| key(e) != key(kv)));
            env.push(json!(kv));
        }
        p["env"] = Value::Array(env);
    }
    if let Some(user) = &flags.user {
        let bad = || Error::new(format!("--user {user:?}: want UID[:GID]"));
        let (uid, gid) = user.split_once(':').unwrap_or((user, ""));
        p["user"]["uid"] = json!(uid.parse::<u32>().map_err(|_| bad())?);
        if !gid.is_empty() {
            p["user"]["gid"] = json!(gid.parse::<u32>().map_err(|_| bad())?);
        }
    }
    if !flags.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(flags.additional_gids);
    }
    for cap in &flags.caps {
        let cap = cap.to_uppercase();
        let name = json!(match cap.starts_with("CAP_") {
            true => cap,
            false => format!("CAP_{cap}"),
        });
        for set in ["bounding", "effective", "permitted"] {
            let mut list = p["capabilities"][set]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !list.contains(&name) {
                list.push(name.clone());
                p["capabilities"][set] = Value::Array(list);
            }
        }
    }
    if flags.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    if let Some(profile) = &flags.apparmor {
        p["apparmorProfile"] = json!(profile);
    }
    if let Some(label) = &flags.process_label {
        p["selinuxLabel"] = json!(label);
    }
    parse(p, "exec")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_quoting_input_stay_one_line() {
        // Found by fuzz/ (process): serde quotes an unknown variant as it is.
        let text = br#"{"args": ["sh"], "cwd": "/", "rlimits": [{"type": "RLIMIT_\n", "hard": 1, "soft": 1}]}"#;
        let e = from_slice(text, "p.json", || Ok(None)).unwrap_err();
        assert!(
            e.message()
                .starts_with(r"p.json: rlimits[0].type: unknown variant `RLIMIT_\n`"),
            "{e}"
        );
    }

    #[test]
    fn the_container_user_fills_in_a_missing_one() {
        let user = || Ok(Some(json!({"uid": 7, "gid": 8})));
        let p = from_slice(br#"{"args": ["id"], "cwd": "/"}"#, "p.json", user).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (7, 8));
        let p = from_slice(br#"{"args": ["id"], "cwd": "/"}"#, "p.json", || Ok(None)).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    }
}
