//! clap definitions: runc's global flags and subcommands, in both
//! `--flag value` and `--flag=value` forms (clap accepts both).

use clap::{Parser, Subcommand};
use hull::container::{self, create::CreateOptions, run::RunOptions};
use hull::error::Result;
use out::outln;
use std::path::PathBuf;

mod cgroups;
mod criu;
mod docs;
mod driver;
mod exec;
mod goflags;
mod list;
mod out;
mod update;

#[derive(Parser)]
#[command(
    name = "hull",
    about = "hull: a low-level OCI container runtime",
    disable_version_flag = true
)]
struct Cli {
    /// Root directory for container state (default /run/hull; for a user
    /// who is not root, $XDG_RUNTIME_DIR/hull)
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Log file for errors (engines read it)
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Debug logging
    #[arg(long, global = true)]
    debug: bool,
    /// Use systemd to manage cgroups
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Ignore cgroup permission errors where no limits are asked for:
    /// true, false or auto (when not root on the host), as runc
    #[arg(long, value_name = "true|false|auto")]
    rootless: Option<String>,
    /// Print the version
    #[arg(long, short = 'v')]
    version: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(clap::Args, Clone)]
struct CreateArgs {
    /// Path to the bundle (default: current directory)
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// File to write the init's pid to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Use move + chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Keep the caller's session keyring
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Unix socket to send the pty master to (process.terminal)
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Pass fds 3..3+N-1 to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Unix socket to send the init's pidfd to
    #[arg(long = "pidfd-socket")]
    pidfd_socket: Option<PathBuf>,
}

impl CreateArgs {
    fn options(&self, cgroup_driver: hull::cgroups::Driver) -> CreateOptions {
        CreateOptions {
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            console: match &self.console_socket {
                Some(p) => container::create::Console::Socket(p.clone()),
                None => container::create::Console::None,
            },
            stdio: None,
            pidfd_socket: self.pidfd_socket.clone(),
            cgroup_driver,
        }
    }
}

#[derive(Subcommand)]
// Each subcommand's arguments are built only when it is the one run: building
// them all is the largest piece of code every invocation would touch.
#[command(defer = true)]
enum Cmd {
    /// Create a container (its process waits for `start`)
    Create {
        #[command(flatten)]
        args: CreateArgs,
        id: String,
    },
    /// Start a created container
    Start { id: String },
    /// Print a container's OCI state
    State { id: String },
    /// Send a signal to a container's init (default TERM)
    Kill {
        /// Signal every process in the container
        #[arg(long, short = 'a')]
        all: bool,
        id: String,
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Delete a container
    Delete {
        /// Kill a live container first
        #[arg(long, short = 'f')]
        force: bool,
        id: String,
    },
    /// List containers
    #[command(alias = "ls")]
    List {
        #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Print only the IDs
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Create, start, wait for and delete a container
    Run {
        #[command(flatten)]
        args: CreateArgs,
        /// Return after start
        #[arg(long, short = 'd')]
        detach: bool,
        /// Do not delete the container after it exits
        #[arg(long)]
        keep: bool,
        /// Do not become a subreaper for the container's orphans
        #[arg(long = "no-subreaper")]
        no_subreaper: bool,
        id: String,
    },
    /// Run a new process in a running container
    Exec(Box<exec::ExecArgs>),
    /// Suspend every process of a running container
    Pause { id: String },
    /// Resume a paused container
    Resume { id: String },
    /// Change a container's resource limits
    Update(Box<update::Update>),
    /// List a container's processes
    Ps(cgroups::Ps),
    /// Show a container's stats and OOM events
    Events(cgroups::Events),
    /// Print the OCI features document (what this hull supports)
    Features,
    /// Checkpoint a running container with CRIU (where criu is on PATH)
    #[command(hide = true, disable_help_flag = true)]
    Checkpoint(Box<criu::Checkpoint>),
    /// Restore a container from a checkpoint (where criu is on PATH)
    #[command(hide = true, disable_help_flag = true)]
    Restore(Box<criu::Restore>),
    /// The execdriver front door: run a Command (JSON), or write its bundle
    #[command(subcommand)]
    Driver(driver::DriverCmd),
    /// Write a default config.json
    Spec {
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
        /// For a container run by a user who is not root (`runc spec
        /// --rootless`'s changes)
        #[arg(long)]
        rootless: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (hull.8, hull-SUBCOMMAND.8) into DIR
    #[cfg(feature = "docs")]
    #[command(hide = true)]
    Man { dir: PathBuf },
}

/// `args`: argv, the program's name first.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let args = goflags::args(args, <Cli as clap::CommandFactory>::command);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, &args),
    };
    hull::log::init(hull::log::Config {
        file: cli.log.clone(),
        json: cli.log_format == "json",
        debug: cli.debug,
    });
    if cli.version {
        let version = outln!(
            "hull version {}\ncommit: {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            env!("HULL_COMMIT"),
            container::state::OCI_VERSION
        );
        return match version {
            Ok(()) => 0,
            Err(e) => {
                hull::log::error(e.message());
                1
            }
        };
    }
    let Some(cmd) = cli.cmd else {
        let _ = criu::command_for_help().print_help();
        return 1;
    };
    let rootless = match cli.rootless.as_deref().map(hull::rootless::Mode::parse) {
        None => hull::rootless::Mode::Auto,
        Some(Ok(mode)) => mode,
        Some(Err(e)) => {
            hull::log::error(e.message());
            return 1;
        }
    };
    hull::rootless::set(rootless);
    let root = cli.root.unwrap_or_else(hull::rootless::default_root);
    match dispatch(&root, cli.systemd_cgroup, cmd) {
        Ok(code) => code,
        Err(e) => {
            hull::log::error(e.message());
            1
        }
    }
}

/// Help and version go to stdout (exit 0); a usage error is one line on
/// stderr naming what is wrong, exit 1, as runc (not clap's usage block).
fn usage_error(e: clap::Error, args: &[std::ffi::OsString]) -> i32 {
    use clap::error::ErrorKind;
    let help = matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if help && let Some(refusal) = criu::help_refusal(args) {
        hull::log::error(refusal.message());
        return 1;
    }
    // Help with checkpoint and restore listed where criu is (the only
    // time the top-level commands look for it): the same arguments
    // parsed again by the command that shows them.
    let e = match help {
        true => criu::command_for_help()
            .try_get_matches_from(args)
            .err()
            .unwrap_or(e),
        false => e,
    };
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return 0;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return 1;
    }
    // clap's message, up to its usage block, on one line.
    let text = e.to_string();
    let what: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    let what = what.join(" ");
    let what = what.strip_prefix("error: ").unwrap_or(&what);
    hull::log::error(&format!("{what} (see hull --help)"));
    1
}

fn dispatch(root: &std::path::Path, systemd_cgroup: bool, cmd: Cmd) -> Result<i32> {
    if systemd_cgroup && !std::path::Path::new("/run/systemd/system").exists() {
        hull::bail!("--systemd-cgroup: systemd is not running on this host");
    }
    let driver = match systemd_cgroup {
        true => hull::cgroups::Driver::Systemd,
        false => hull::cgroups::Driver::Cgroupfs,
    };
    match cmd {
        Cmd::Create { args, id } => {
            container::create::create(root, &id, &args.options(driver)).map(|_| 0)
        }
        // As runc: exec's own failures exit 255, apart from the process's
        // statuses.
        Cmd::Exec(args) => exec::run(root, *args).or_else(|e| {
            hull::log::error(e.message());
            Ok(255)
        }),
        Cmd::Start { id } => container::start::start(root, &id).map(|_| 0),
        Cmd::State { id } => {
            let v = container::state::state(root, &id)?;
            outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())?;
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => {
            let sig = container::kill::parse_signal(&signal)?;
            container::kill::kill(root, &id, sig, all).map(|_| 0)
        }
        Cmd::Delete { force, id } => container::delete::delete(root, &id, force).map(|_| 0),
        Cmd::List { format, quiet } => list::print(root, &format, quiet).map(|_| 0),
        Cmd::Pause { id } => container::pause::pause(root, &id).map(|_| 0),
        Cmd::Resume { id } => container::pause::resume(root, &id).map(|_| 0),
        Cmd::Update(u) => update::update(root, *u).map(|_| 0),
        Cmd::Ps(p) => cgroups::ps(root, p).map(|_| 0),
        Cmd::Events(e) => cgroups::events(root, e).map(|_| 0),
        Cmd::Run {
            args,
            detach,
            keep,
            no_subreaper,
            id,
        } => {
            let opts = RunOptions {
                create: args.options(driver),
                detach,
                keep,
                subreaper: !no_subreaper,
            };
            container::run::run(root, &id, &opts)
        }
        Cmd::Driver(d) => driver::dispatch(root, d),
        Cmd::Completion { shell } => docs::completion(shell),
        #[cfg(feature = "docs")]
        Cmd::Man { dir } => docs::man(&dir),
        Cmd::Checkpoint(a) => criu::checkpoint(root, *a),
        Cmd::Restore(a) => criu::restore(root, driver, *a),
        Cmd::Features => {
            let doc = hull::features::features();
            outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default())?;
            Ok(0)
        }
        Cmd::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            if path.exists() {
                hull::bail!("{} already exists; remove it first", path.display());
            }
            let mut spec = hull::config::spec_for_this_host();
            if rootless {
                hull::config::make_rootless(&mut spec);
            }
            let text = serde_json::to_string_pretty(&spec).unwrap_or_default();
            std::fs::write(&path, text + "\n").map_err(|e| {
                hull::Error::new(format!(
                    "write {}: {}",
                    path.display(),
                    hull::Error::from(e)
                ))
            })?;
            Ok(0)
        }
    }
}
