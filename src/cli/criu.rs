//! `checkpoint` and `restore` (runc's flags and defaults). Both exist only
//! where CRIU is on PATH: hidden from `hull --help` otherwise, and their
//! own `--help` fails then (podman asks `RUNTIME checkpoint --help` to
//! know whether a runtime can checkpoint). Only these paths look for criu.

use clap::{Args, CommandFactory};
use hull::container::checkpoint::{self, CheckpointOptions};
use hull::container::restore::{self, RestoreOptions};
use hull::error::Result;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct Checkpoint {
    /// Path for the criu image files (default: ./checkpoint)
    #[arg(long = "image-path")]
    image_path: Option<PathBuf>,
    /// Path for criu's work files and log (default: the image path)
    #[arg(long = "work-path")]
    work_path: Option<PathBuf>,
    /// Path of a previous pre-dump's images, relative to the image path
    #[arg(long = "parent-path")]
    parent_path: Option<PathBuf>,
    /// Leave the container running after checkpointing
    #[arg(long = "leave-running")]
    leave_running: bool,
    /// Allow open TCP connections
    #[arg(long = "tcp-established")]
    tcp_established: bool,
    /// Skip in-flight TCP connections
    #[arg(long = "tcp-skip-in-flight")]
    tcp_skip_in_flight: bool,
    /// Allow to link unlinked files back when possible
    #[arg(long = "link-remap")]
    link_remap: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    shell_job: bool,
    /// Use userfaultfd to restore memory pages lazily
    #[arg(long = "lazy-pages")]
    lazy_pages: bool,
    /// With --lazy-pages: criu writes \0 to this fd once it is ready
    #[arg(long = "status-fd")]
    status_fd: Option<i32>,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server")]
    page_server: Option<String>,
    /// Handle file locks
    #[arg(long = "file-locks")]
    file_locks: bool,
    /// Dump the memory only and leave the container running
    #[arg(long = "pre-dump")]
    pre_dump: bool,
    /// cgroups mode: soft, full, strict or ignore (default: criu's, soft)
    #[arg(long = "manage-cgroups-mode")]
    manage_cgroups_mode: Option<String>,
    /// Create a namespace but do not restore its properties (network)
    #[arg(long = "empty-ns")]
    empty_ns: Vec<String>,
    /// Deduplicate memory images automatically
    #[arg(long = "auto-dedup")]
    auto_dedup: bool,
    /// Print help
    #[arg(long, short = 'h')]
    help: bool,
    #[arg(required_unless_present = "help")]
    id: Option<String>,
}

#[derive(Args)]
pub struct Restore {
    /// Path of the criu image files (default: ./checkpoint)
    #[arg(long = "image-path")]
    image_path: Option<PathBuf>,
    /// Path for criu's work files and log (default: the image path)
    #[arg(long = "work-path")]
    work_path: Option<PathBuf>,
    /// Path to the bundle (default: current directory)
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// Return once restored
    #[arg(long, short = 'd')]
    detach: bool,
    /// File to write the restored init's pid to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket to send the new pty master to (process.terminal)
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Do not become a subreaper for the container's orphans
    #[arg(long = "no-subreaper")]
    no_subreaper: bool,
    /// Accepted as runc: criu restores the mounts itself
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Allow open TCP connections
    #[arg(long = "tcp-established")]
    tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    shell_job: bool,
    /// Handle file locks
    #[arg(long = "file-locks")]
    file_locks: bool,
    /// cgroups mode: soft, full, strict or ignore (default: criu's, soft)
    #[arg(long = "manage-cgroups-mode")]
    manage_cgroups_mode: Option<String>,
    /// Create a namespace but do not restore its properties (network)
    #[arg(long = "empty-ns")]
    empty_ns: Vec<String>,
    /// Deduplicate memory images automatically
    #[arg(long = "auto-dedup")]
    auto_dedup: bool,
    /// Use userfaultfd to restore memory pages lazily
    #[arg(long = "lazy-pages")]
    lazy_pages: bool,
    /// Print help
    #[arg(long, short = 'h')]
    help: bool,
    #[arg(required_unless_present = "help")]
    id: Option<String>,
}

/// runc's default image directory: `checkpoint` in the current one.
fn image_path(given: &Option<PathBuf>) -> Result<PathBuf> {
    match given {
        Some(p) => Ok(p.clone()),
        None => std::env::current_dir()
            .map(|d| d.join("checkpoint"))
            .map_err(|e| hull::Error::new(format!("current directory: {}", hull::Error::from(e)))),
    }
}

/// A subcommand's help, printed only where it works.
fn help(name: &str) -> Result<i32> {
    hull::criu::require()?;
    let mut cmd = super::Cli::command();
    cmd.build();
    if let Some(sub) = cmd.find_subcommand_mut(name) {
        let _ = sub.print_help();
    }
    Ok(0)
}

pub fn checkpoint(root: &Path, a: Checkpoint) -> Result<i32> {
    let Some(id) = a.id.filter(|_| !a.help) else {
        return help("checkpoint");
    };
    let o = CheckpointOptions {
        image_path: image_path(&a.image_path)?,
        work_path: a.work_path,
        parent_path: a.parent_path,
        leave_running: a.leave_running,
        tcp_established: a.tcp_established,
        tcp_skip_in_flight: a.tcp_skip_in_flight,
        link_remap: a.link_remap,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        pre_dump: a.pre_dump,
        page_server: a.page_server,
        manage_cgroups_mode: a.manage_cgroups_mode,
        empty_ns: a.empty_ns,
        auto_dedup: a.auto_dedup,
        lazy_pages: a.lazy_pages,
        status_fd: a.status_fd,
    };
    checkpoint::checkpoint(root, &id, &o).map(|()| 0)
}

pub fn restore(root: &Path, cgroup_driver: hull::cgroups::Driver, a: Restore) -> Result<i32> {
    let Some(id) = a.id.filter(|_| !a.help) else {
        return help("restore");
    };
    let o = RestoreOptions {
        image_path: image_path(&a.image_path)?,
        work_path: a.work_path,
        bundle: a.bundle,
        detach: a.detach,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        no_subreaper: a.no_subreaper,
        no_pivot: a.no_pivot,
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        manage_cgroups_mode: a.manage_cgroups_mode,
        empty_ns: a.empty_ns,
        auto_dedup: a.auto_dedup,
        lazy_pages: a.lazy_pages,
        cgroup_driver,
    };
    restore::restore(root, &id, &o)
}

/// `hull help checkpoint` (or `restore`) where criu is not: the refusal
/// `checkpoint --help` gives, not the help of a command that cannot work.
/// The arguments are parsed again with a `help` of ours, which names its
/// topic (clap's own only prints).
pub fn help_refusal(args: &[std::ffi::OsString]) -> Option<hull::error::Error> {
    let matches = super::Cli::command()
        .disable_help_subcommand(true)
        .subcommand(clap::Command::new("help").arg(clap::Arg::new("topic").num_args(0..)))
        .ignore_errors(true)
        .try_get_matches_from(args)
        .ok()?;
    let topic = matches
        .subcommand_matches("help")?
        .get_many::<String>("topic")?
        .next()?;
    match topic.as_str() {
        "checkpoint" | "restore" => hull::criu::require().err(),
        _ => None,
    }
}

/// The whole command with checkpoint and restore shown, where criu is:
/// what `hull --help` prints.
pub fn command_for_help() -> clap::Command {
    let cmd = super::Cli::command();
    match hull::criu::find() {
        Some(_) => cmd
            .mut_subcommand("checkpoint", |c| c.hide(false))
            .mut_subcommand("restore", |c| c.hide(false)),
        None => cmd,
    }
}
