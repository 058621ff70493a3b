//! `exec`: runc's flags, turned into the process to run.

use hull::container::process::{self, Flags};
use hull::container::{self, create::Console, exec::ExecOptions};
use hull::error::Result;
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
    /// Sub-cgroup of the container's to run in: [CONTROLLER[,CONTROLLER]:]PATH (repeatable)
    #[arg(long)]
    cgroup: Vec<String>,
    pub id: String,
    /// The command and its arguments (without --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn run(root: &std::path::Path, a: ExecArgs) -> Result<i32> {
    let process = match &a.process {
        Some(file) => process::from_file(root, &a.id, file)?,
        None => {
            let flags = Flags {
                args: a.args,
                tty: a.tty,
                cwd: a.cwd,
                env: a.env,
                user: a.user,
                additional_gids: a.additional_gids,
                caps: a.cap,
                no_new_privs: a.no_new_privs,
                apparmor: a.apparmor,
                process_label: a.process_label,
            };
            process::from_flags(root, &a.id, &flags)?
        }
    };
    let opts = ExecOptions {
        detach: a.detach,
        pid_file: a.pid_file,
        console: match a.console_socket {
            Some(p) => Console::Socket(p),
            None => Console::None,
        },
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        sub_cgroups: a.cgroup,
        pidfd_socket: a.pidfd_socket,
    };
    container::exec::exec(root, &a.id, &process, &opts)
}
