//! freezer: pausing the container's processes (`pause`, and `kill`
//! holding them still while it signals them). No config field.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Controller, Dir, Unified};
use crate::bail;
use crate::cgroups::files::{self, read, read_opt, write, write_raw};
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "freezer",
    // cgroup.freeze (5.2+) is in every non-root cgroup; a missing cgroup
    // gets the clearer "does not exist" from the write.
    v2: Unified::Builtin(|_, dir| !dir.exists() || dir.join("cgroup.freeze").exists()),
    set: None,
    stats: None,
    feature: false,
};

/// Freeze (returning once frozen) or thaw; errors name `freeze`/`thaw`.
pub fn set_frozen(dir: Dir, frozen: bool) -> Result<()> {
    match dir {
        Dir::V1(dir) => set_frozen_v1(dir, frozen),
        Dir::V2(dir) => set_frozen_v2(dir, frozen),
    }
}

/// Whether the container itself is frozen (or freezing), not just a parent.
pub fn is_frozen(dir: Dir) -> Result<bool> {
    match dir {
        Dir::V1(dir) => is_frozen_v1(dir),
        Dir::V2(dir) => {
            // What was asked for: a frozen parent does not make us paused.
            let asked = read_opt(dir, "cgroup.freeze")?;
            Ok(asked.is_some_and(|s| files::last_line(&s) == "1"))
        }
    }
}

fn set_frozen_v1(dir: &Path, frozen: bool) -> Result<()> {
    if !frozen {
        return write(dir, "freezer.state", "THAWED", "thaw");
    }
    // Tasks that fork or sit in vfork can hold the cgroup in FREEZING;
    // like runc, retry and now and then thaw briefly to shake them loose.
    for i in 0..1000 {
        if i % 50 == 49 {
            write(dir, "freezer.state", "THAWED", "freeze")?;
            std::thread::sleep(Duration::from_millis(10));
        }
        write(dir, "freezer.state", "FROZEN", "freeze")?;
        if i % 25 == 24 {
            std::thread::sleep(Duration::from_micros(10));
        }
        match files::last_line(&read(dir, "freezer.state")?) {
            "FROZEN" => return Ok(()),
            "FREEZING" => continue,
            s => {
                let _ = write_raw(dir, "freezer.state", "THAWED");
                bail!("freeze {}: unexpected freezer.state {s}", dir.display());
            }
        }
    }
    let _ = write_raw(dir, "freezer.state", "THAWED");
    bail!(
        "freeze {}: still FREEZING after 1000 attempts",
        dir.display()
    )
}

fn is_frozen_v1(dir: &Path) -> Result<bool> {
    let Some(state) = read_opt(dir, "freezer.state")? else {
        return Ok(false);
    };
    // Only our own freeze counts, not a parent's; one still FREEZING
    // (a task that cannot stop yet) is a pause asked for, and reported
    // at once: `state` and `list` must never hang on it.
    if !matches!(files::last_line(&state), "FROZEN" | "FREEZING") {
        return Ok(false);
    }
    let own = read_opt(dir, "freezer.self_freezing")?;
    Ok(own.is_none_or(|s| files::last_line(&s) == "1"))
}

fn set_frozen_v2(dir: &Path, frozen: bool) -> Result<()> {
    let what = if frozen { "freeze" } else { "thaw" };
    write(dir, "cgroup.freeze", if frozen { "1" } else { "0" }, what)?;
    if !frozen {
        return Ok(());
    }
    // The write only starts freezing; cgroup.events says when it is done.
    let start = Instant::now();
    loop {
        let events = read(dir, "cgroup.events")?;
        if files::key(&events, "frozen") == Some(1) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = write_raw(dir, "cgroup.freeze", "0");
            bail!("freeze {}: not frozen after 10s", dir.display());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
