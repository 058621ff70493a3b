//! `ps` and `events`: runc's flags; the work is in `container::{ps,
//! events}`. (`pause`/`resume` take just an ID; `update` is update.rs.)

use hull::container::{events as ev, ps as psc};
use hull::error::{Error, Result};
use std::path::Path;

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
    super::out::text(&text)
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
        super::out::text(&(line + "\n"))
    })
}
