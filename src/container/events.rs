//! `events`: runc's event stream. `--stats` gives one
//! `{"type":"stats","id":ID,"data":{...}}` object; without it a stats
//! object every interval plus `{"type":"oom","id":ID}` whenever the
//! kernel OOM-kills in the container, until the container stops.

use crate::bail;
use crate::cgroups::Stats;
use crate::error::{Context, Error, Result};
use crate::state::{StateDir, Status};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// One event, serialised as runc's `types.Event` (field order included).
#[derive(serde::Serialize, Debug)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// How often the OOM-kill counter is read between stats.
const OOM_POLL: Duration = Duration::from_millis(100);

/// Emit the container's events through `emit` (one JSON object each):
/// with `stats_only` one stats event; else every `interval` a stats event
/// and an `oom` event when the OOM-kill counter has grown, until the
/// container's init exits or the container is deleted. Holds no lock on
/// the container while streaming.
pub fn events(
    root: &Path,
    id: &str,
    interval: Duration,
    stats_only: bool,
    emit: &mut dyn FnMut(&Event) -> Result<()>,
) -> Result<()> {
    if interval.is_zero() {
        bail!("duration interval must be greater than 0");
    }
    let (st, status) = {
        let dir = StateDir::open(root, id)?;
        let st = dir.load()?;
        let status = super::status(&dir.path, &st);
        (st, status)
    };
    if status == Status::Stopped {
        bail!("container with id {id} is not running");
    }
    let cgroup = super::pause::cgroup(&st)?;
    let stats = || -> Result<Event> {
        Ok(Event {
            kind: "stats",
            id,
            data: Some(cgroup.stats_data()?),
        })
    };
    if stats_only {
        return emit(&stats()?);
    }
    // A pidfd checked against the recorded start time cannot name another
    // process later; it turns readable when the init exits.
    let pidfd = match crate::sys::pidfd_open(st.pid) {
        Ok(fd) if st.alive() => fd,
        _ => return Ok(()),
    };
    let mut ooms = cgroup.oom_kills().unwrap_or(0);
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now()).min(OOM_POLL);
        let exited = crate::sys::pidfd_wait_exit(pidfd.as_fd(), wait.as_millis() as i32)
            .ctx(|| "wait for container init")?;
        // An OOM kill of the init itself is reported before the end.
        if let Ok(n) = cgroup.oom_kills() {
            if n > ooms {
                emit(&Event {
                    kind: "oom",
                    id,
                    data: None,
                })?;
            }
            ooms = n;
        }
        if exited || !root.join(id).join(crate::state::STATE_FILE).exists() {
            return Ok(());
        }
        if Instant::now() >= next {
            match stats() {
                Ok(v) => emit(&v)?,
                // As runc: log and go on.
                Err(e) => crate::log::error(e.message()),
            }
            // Like Go's ticker: late ticks are dropped, not caught up.
            next += interval;
            if next < Instant::now() {
                next = Instant::now() + interval;
            }
        }
    }
}

/// A Go duration as runc's `--interval` takes it: `5s`, `100ms`, `1m30s`,
/// `1.5h`, `0` (units ns, us, µs, ms, s, m, h; negative ones are refused
/// later as not greater than 0, so they parse to zero).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let invalid = || Error::new(format!("invalid duration {s:?}"));
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(n);
        if num.is_empty() || num == "." {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        let u = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(u);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(Error::new(format!("missing unit in duration {s:?}"))),
            _ => {
                return Err(Error::new(format!(
                    "unknown unit {unit:?} in duration {s:?}"
                )));
            }
        };
        total += value * scale;
        rest = tail;
    }
    if neg {
        return Ok(Duration::ZERO);
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        for (s, want) in [
            ("5s", ms(5000)),
            ("100ms", ms(100)),
            ("1m30s", ms(90_000)),
            ("1.5h", ms(5_400_000)),
            ("0", ms(0)),
            ("250us", Duration::from_micros(250)),
            ("-1s", ms(0)),
            ("+2s", ms(2000)),
        ] {
            assert_eq!(parse_duration(s).unwrap(), want, "{s}");
        }
        assert_eq!(
            parse_duration("5").unwrap_err().message(),
            "missing unit in duration \"5\""
        );
        assert!(
            parse_duration("5x")
                .unwrap_err()
                .message()
                .contains("unknown unit")
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
    }
}
