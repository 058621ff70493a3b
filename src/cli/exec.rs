//! `exec`: runc's flags, turned into the process to run.

use hull::container::{self, create::Console, exec::ExecOptions};
use hull::error::{Error, Result};
use oci_spec::runtime::Process;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ExecArgs {
    /// process.json with the whole process (as containerd and conmon send)
    #[arg(long, short = 'p')]
    process: Option<PathBuf>,
    /// Allocate a terminal (its master goes to --console-socket)
    #[arg(long, short = 't')]
    tty: bool,
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Unix socket to send the process's pidfd to
    #[arg(long = "pidfd-socket")]
    pidfd_socket: Option<PathBuf>,
    /// Return once the process runs
    #[arg(long, short = 'd')]
    detach: bool,
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    #[arg(long)]
    cwd: Option<String>,
    /// Environment variable K=V (repeatable)
    #[arg(long, short = 'e')]
    env: Vec<String>,
    /// UID[:GID]
    #[arg(long, short = 'u')]
    user: Option<String>,
    #[arg(long = "additional-gids", short = 'g')]
    additional_gids: Vec<u32>,
    /// Add a capability (repeatable)
    #[arg(long, short = 'c')]
    cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    #[arg(long)]
    apparmor: Option<String>,
    #[arg(long = "process-label")]
    process_label: Option<String>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    #[arg(long = "ignore-paused")]
    ignore_paused: bool,
    /// Sub-cgroup of the container's to run in
    #[arg(long)]
    cgroup: Option<String>,
    pub id: String,
    /// The command and its arguments (without --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn run(root: &std::path::Path, a: ExecArgs) -> Result<i32> {
    let process = build_process(root, &a)?;
    let opts = ExecOptions {
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        console: match &a.console_socket {
            Some(p) => Console::Socket(p.clone()),
            None => Console::None,
        },
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        sub_cgroup: a.cgroup.clone(),
        pidfd_socket: a.pidfd_socket.clone(),
    };
    container::exec::exec(root, &a.id, &process, &opts)
}

fn parse_process(mut v: Value, what: &str) -> Result<Process> {
    hull::config::normalize_process(&mut v);
    serde_path_to_error::deserialize(v)
        .map_err(|e| Error::new(format!("{what}: {}: {}", e.path(), e.inner())))
}

/// runc's rules: `--process` is the whole process; otherwise the
/// container's own process with ARGS and the flags applied on top.
fn build_process(root: &std::path::Path, a: &ExecArgs) -> Result<Process> {
    let container_process = || -> Result<Value> {
        let st_dir = root.join(&a.id);
        hull::state::read(root, &a.id)?;
        let (spec, _) = hull::config::load_spec(&st_dir.join("config.json"))?;
        Ok(serde_json::to_value(spec.process()).unwrap_or(Value::Null))
    };
    if let Some(file) = &a.process {
        let text = std::fs::read(file)
            .map_err(|e| Error::new(format!("read {}: {}", file.display(), Error::from(e))))?;
        let mut v: Value = hull::config::from_json_slice(&text)
            .map_err(|e| Error::new(format!("{}: {e}", file.display())))?;
        // runc: a process without a user runs as the container's.
        if v.is_object() && v.get("user").is_none() {
            let user = container_process()?.get("user").cloned();
            v["user"] = user.unwrap_or_else(|| json!({"uid": 0, "gid": 0}));
        }
        return parse_process(v, &file.display().to_string());
    }
    if a.args.is_empty() {
        hull::bail!("exec: no command given (ARGS or --process)");
    }
    let mut p = container_process()?;
    if !p.is_object() {
        p = json!({"cwd": "/", "user": {"uid": 0, "gid": 0}});
    }
    p["args"] = json!(a.args);
    p["terminal"] = json!(a.tty);
    if let Some(cwd) = &a.cwd {
        if !cwd.starts_with('/') {
            hull::bail!("exec: --cwd {cwd:?}: must be an absolute path");
        }
        p["cwd"] = json!(cwd);
    }
    if !a.env.is_empty() {
        let mut env: Vec<Value> = p["env"].as_array().cloned().unwrap_or_default();
        for kv in &a.env {
            // A variable given again replaces the config's, as in runc.
            let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
            env.retain(|e| {
                e.as_str()
                    .is_none_or(|e| e.split_once('=').map_or(e, |(k, _)| k) != key)
            });
            env.push(json!(kv));
        }
        p["env"] = Value::Array(env);
    }
    if let Some(user) = &a.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, ""));
        let uid: u32 = uid
            .parse()
            .map_err(|_| Error::new(format!("--user {user:?}: want UID[:GID]")))?;
        p["user"]["uid"] = json!(uid);
        if !gid.is_empty() {
            let gid: u32 = gid
                .parse()
                .map_err(|_| Error::new(format!("--user {user:?}: want UID[:GID]")))?;
            p["user"]["gid"] = json!(gid);
        }
    }
    if !a.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(a.additional_gids);
    }
    for cap in &a.cap {
        let name = if cap.to_uppercase().starts_with("CAP_") {
            cap.to_uppercase()
        } else {
            format!("CAP_{}", cap.to_uppercase())
        };
        for set in ["bounding", "effective", "permitted"] {
            let list = p["capabilities"][set]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !list.iter().any(|c| c == &json!(name)) {
                let mut list = list;
                list.push(json!(name));
                p["capabilities"][set] = Value::Array(list);
            }
        }
    }
    if a.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    if let Some(profile) = &a.apparmor {
        p["apparmorProfile"] = json!(profile);
    }
    if let Some(label) = &a.process_label {
        p["selinuxLabel"] = json!(label);
    }
    parse_process(p, "exec")
}
