//! `hull driver run|bundle`: the execdriver Command front door.

use hull::driver::{self, Command, Driver, Pipes, RunOptions};
use hull::error::Result;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum DriverCmd {
    /// Run a Command (JSON): bundle, create, start, wait, delete; exits
    /// with the container's status
    Run {
        /// File to write the container's pid to once it runs
        #[arg(long = "pid-file")]
        pid_file: Option<PathBuf>,
        #[command(flatten)]
        places: Places,
        /// The Command document
        command: PathBuf,
    },
    /// Only write the OCI bundle (config.json) of a Command, for any OCI runtime
    Bundle {
        /// Directory to write config.json to (created if missing)
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        places: Places,
        /// The Command document
        command: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct Places {
    /// Use this rootfs instead of the Command's
    #[arg(long)]
    rootfs: Option<PathBuf>,
    /// Where run writes bundles (<dir>/<id>/)
    #[arg(long = "bundle-root", default_value = driver::DEFAULT_ROOT)]
    bundle_root: PathBuf,
    /// Containers' cgroups are <parent>/<id>
    #[arg(long = "cgroup-parent", default_value = driver::DEFAULT_CGROUP_PARENT)]
    cgroup_parent: String,
}

impl Places {
    fn load(&self, state_root: &Path, path: &Path) -> Result<(Driver, Command)> {
        let mut cmd = Command::from_file(path)?;
        if let Some(r) = &self.rootfs {
            let abs = std::path::absolute(r)
                .map_err(|e| hull::Error::new(format!("--rootfs {}: {e}", r.display())))?;
            cmd.rootfs = abs.display().to_string();
        }
        let d = Driver {
            root: self.bundle_root.clone(),
            state_root: state_root.to_path_buf(),
            cgroup_parent: self.cgroup_parent.clone(),
        };
        Ok((d, cmd))
    }
}

pub fn dispatch(state_root: &Path, cmd: DriverCmd) -> Result<i32> {
    match cmd {
        DriverCmd::Run {
            pid_file,
            places,
            command,
        } => {
            let (d, cmd) = places.load(state_root, &command)?;
            // A terminal on our stdin goes raw while it is the container's.
            let _raw = if cmd.tty {
                hull::console::RawMode::enter(0)
            } else {
                None
            };
            let opts = RunOptions {
                pid_file,
                forward_signals: true,
                console_size: None,
            };
            let status = d.run_with(&cmd, Pipes::inherit(), &opts, |_| {})?;
            Ok(status.code())
        }
        DriverCmd::Bundle {
            out,
            places,
            command,
        } => {
            let (d, cmd) = places.load(state_root, &command)?;
            d.write_bundle(&cmd, &out)?;
            Ok(0)
        }
    }
}
