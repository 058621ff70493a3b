//! `hull completion SHELL` and `hull man DIR`: shell completions and
//! manual pages generated from the clap definitions themselves, so they
//! cannot drift from what hull parses. Cold code, run only when asked:
//! nothing here is on the lifecycle path. `man` exists only in the `docs`
//! build (`make docs`), which alone links clap_mangen.

use clap::CommandFactory;
use hull::error::Result;

/// Manual section: hull administers the machine, as runc's pages (8).
#[cfg(feature = "docs")]
const SECTION: &str = "8";

pub fn completion(shell: clap_complete::Shell) -> Result<i32> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut super::Cli::command(), "hull", &mut script);
    super::out::text(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

/// Writes hull.8 and a page per subcommand (hull-create.8,
/// hull-driver-run.8, ...) into `dir`, which must exist.
#[cfg(feature = "docs")]
pub fn man(dir: &std::path::Path) -> Result<i32> {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    // Gives each subcommand its display name (hull-create) and usage.
    cmd.build();
    write_pages(&cmd, dir)?;
    Ok(0)
}

#[cfg(feature = "docs")]
fn write_pages(cmd: &clap::Command, dir: &std::path::Path) -> Result<()> {
    use hull::error::Context;
    let page = clap_mangen::Man::new(cmd.clone())
        .section(SECTION)
        .manual("hull manual")
        .source(format!("hull {}", env!("CARGO_PKG_VERSION")));
    let path = dir.join(page.get_filename());
    let mut text = Vec::new();
    page.render(&mut text).ctx(|| "render the manual page")?;
    std::fs::write(&path, text).ctx(|| format!("write {}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    Ok(())
}
