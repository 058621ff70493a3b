//! `update`, `ps` and `events`: runc's flags; the work is in
//! `container::{update, ps, events}`. (`pause`/`resume` take just an ID.)

use hull::container::{events as ev, ps as psc, update as up};
use hull::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// runc's `update` flags. With `--resources`, the others are ignored.
#[derive(clap::Args)]
pub struct Update {
    /// LinuxResources JSON file to apply, or `-` for standard input
    #[arg(long, short = 'r', allow_hyphen_values = true)]
    resources: Option<String>,
    /// Per cgroup weight, 10 to 1000
    #[arg(long = "blkio-weight", allow_hyphen_values = true)]
    blkio_weight: Option<String>,
    /// CPU CFS period (usecs)
    #[arg(long = "cpu-period", allow_hyphen_values = true)]
    cpu_period: Option<String>,
    /// CPU CFS quota (usecs) per period; -1 for none
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<String>,
    /// CPU CFS burst (usecs)
    #[arg(long = "cpu-burst", allow_hyphen_values = true)]
    cpu_burst: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", alias = "cpu-shares", allow_hyphen_values = true)]
    cpu_share: Option<String>,
    /// CPU realtime period (usecs)
    #[arg(long = "cpu-rt-period", allow_hyphen_values = true)]
    cpu_rt_period: Option<String>,
    /// CPU realtime runtime (usecs) per period
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<String>,
    /// 1: SCHED_IDLE for the cgroup, 0: default
    #[arg(long = "cpu-idle", allow_hyphen_values = true)]
    cpu_idle: Option<String>,
    /// CPUs to use (e.g. 0-2,4)
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Obsolete; ignored with a warning
    #[arg(long = "kernel-memory", hide = true, allow_hyphen_values = true)]
    kernel_memory: Option<String>,
    /// Obsolete; ignored with a warning
    #[arg(long = "kernel-memory-tcp", hide = true, allow_hyphen_values = true)]
    kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes; suffixes k, m, g, ...; -1 for none)
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory soft limit (bytes)
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Memory plus swap limit (bytes); -1 for unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Maximum number of pids; -1 for none
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// Intel RDT/CAT L3 cache schema (not supported)
    #[arg(long = "l3-cache-schema")]
    l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema (not supported)
    #[arg(long = "mem-bw-schema")]
    mem_bw_schema: Option<String>,
    id: String,
}

pub fn update(root: &Path, u: Update) -> Result<()> {
    let resources = match &u.resources {
        Some(source) => up::read_resources(source)?,
        None => up::UpdateFlags {
            blkio_weight: u.blkio_weight,
            cpu_period: u.cpu_period,
            cpu_quota: u.cpu_quota,
            cpu_burst: u.cpu_burst,
            cpu_share: u.cpu_share,
            cpu_rt_period: u.cpu_rt_period,
            cpu_rt_runtime: u.cpu_rt_runtime,
            cpu_idle: u.cpu_idle,
            cpuset_cpus: u.cpuset_cpus,
            cpuset_mems: u.cpuset_mems,
            kernel_memory: u.kernel_memory,
            kernel_memory_tcp: u.kernel_memory_tcp,
            memory: u.memory,
            memory_reservation: u.memory_reservation,
            memory_swap: u.memory_swap,
            pids_limit: u.pids_limit,
            l3_cache_schema: u.l3_cache_schema,
            mem_bw_schema: u.mem_bw_schema,
        }
        .resources()?,
    };
    up::update(root, &u.id, &resources)
}

/// `ps [--format table|json] ID [PS ARGS...]`
#[derive(clap::Args)]
pub struct Ps {
    /// table (the host `ps` output) or json (an array of host pids)
    #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "json"])]
    format: String,
    id: String,
    /// Arguments for the host `ps` (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

pub fn ps(root: &Path, p: Ps) -> Result<()> {
    let pids = psc::pids(root, &p.id)?;
    let text = match p.format.as_str() {
        "json" => serde_json::to_string(&pids).unwrap_or_default() + "\n",
        _ => psc::table(&pids, &p.ps_args)?,
    };
    print(&text)
}

/// `events [--stats] [--interval D] ID`
#[derive(clap::Args)]
pub struct Events {
    /// Stats interval (Go duration: 5s, 500ms, 1m)
    #[arg(long, default_value = "5s", allow_hyphen_values = true)]
    interval: String,
    /// Print the stats once and exit
    #[arg(long)]
    stats: bool,
    id: String,
}

pub fn events(root: &Path, e: Events) -> Result<()> {
    let interval = ev::parse_duration(&e.interval).map_err(|err| {
        Error::new(format!(
            "invalid value {:?} for flag --interval: {err}",
            e.interval
        ))
    })?;
    ev::events(root, &e.id, interval, e.stats, &mut |event| {
        let line = serde_json::to_string(event)
            .map_err(|err| Error::new(format!("encode event: {err}")))?;
        print(&(line + "\n"))
    })
}

/// Write and flush at once: events are read line by line as they come.
fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::new(format!("write to stdout: {}", Error::from(e))))
}
