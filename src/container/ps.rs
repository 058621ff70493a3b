//! `ps`: the container's processes (host pids, from its cgroup), either as
//! a list or as the host `ps` table filtered to them, as runc does.

use crate::bail;
use crate::error::{Error, Result};
use crate::state::StateDir;
use std::path::Path;
use std::process::Command;

/// Host pids of every process in the container's cgroup (empty once it has
/// stopped and nothing is left).
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    super::pause::cgroup(&st)?.pids()
}

/// Run the host `ps` with `args` (runc's default `-ef`) and keep its header
/// and the lines whose PID column names one of `pids`.
pub fn table(pids: &[i32], args: &[String]) -> Result<String> {
    let default = ["-ef".to_string()];
    let args = if args.is_empty() { &default[..] } else { args };
    let out = Command::new("ps")
        .args(args)
        .output()
        .map_err(|e| Error::new(format!("run ps: {}", Error::from(e))))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("ps {}: {}: {}", args.join(" "), out.status, text.trim_end());
    }
    filter(&text, pids)
}

/// The header line and the lines of `pids`, each newline-terminated.
fn filter(ps_output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = ps_output.lines();
    let header = lines.next().unwrap_or("");
    let Some(col) = header.split_whitespace().position(|t| t == "PID") else {
        bail!("couldn't find PID field in ps output");
    };
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(col).unwrap_or("");
        let pid: i32 = field
            .parse()
            .map_err(|_| Error::new(format!("unable to parse pid: {field:?} in {line:?}")))?;
        if pids.contains(&pid) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn keeps_header_and_container_lines() {
        let ps = "UID        PID  PPID  C STIME TTY          TIME CMD\n\
                  root         1     0  0 12:15 ?        00:00:00 init\n\
                  root     21952     1  0 12:15 ?        00:00:00 sh -c x\n\
                  root     21958 21952  0 12:15 ?        00:00:00 sleep 1000\n";
        let out = filter(ps, &[21952, 21958]).unwrap();
        assert_eq!(out.lines().count(), 3);
        assert!(out.starts_with("UID        PID"));
        assert!(!out.contains("init"));
        let pid_last = "  PPID   PID CMD\n     1    7 a\n     7    1 b\n";
        assert_eq!(
            filter(pid_last, &[7]).unwrap(),
            "  PPID   PID CMD\n     1    7 a\n"
        );
        assert_eq!(
            filter("USER COMMAND\nroot x\n", &[1])
                .unwrap_err()
                .message(),
            "couldn't find PID field in ps output"
        );
        assert!(
            filter("PID CMD\nabc x\n", &[1])
                .unwrap_err()
                .message()
                .starts_with("unable to parse pid")
        );
    }
}
