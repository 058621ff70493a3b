//! Go's flag syntax, as runc's CLI takes it: a long flag with one dash
//! (`-no-subreaper`, which go-runc passes to `restore` for containerd's
//! shim) is the same as with two. Such arguments are rewritten to clap's
//! `--name` before parsing, only among a command's flags: up to its first
//! positional argument (where runc's parser stops too), so a process's
//! own arguments (`exec ID ls -all`) are never touched.

use clap::{Arg, Command};
use std::ffi::{OsStr, OsString};

/// Whether any argument has Go's form (one dash, a name of two or more
/// characters): only then is the command walked.
fn any_single_dash(args: &[OsString]) -> bool {
    args.iter().skip(1).any(|a| {
        let b = a.as_encoded_bytes();
        b.len() > 2 && b[0] == b'-' && b[1] != b'-'
    })
}

/// `args` (argv), Go's long flags given two dashes; `cmd` (hull's whole
/// command line definition) made only where one may be.
pub fn args(args: Vec<OsString>, cmd: impl FnOnce() -> Command) -> Vec<OsString> {
    if !any_single_dash(&args) {
        return args;
    }
    // Built: clap defines a subcommand's flags only then.
    let mut cmd = cmd();
    cmd.build();
    long_dashes(&cmd, args)
}

/// `args` (argv, the program's name first) with each one-dash long flag
/// of `cmd`'s (or of the subcommand it names) given two dashes.
fn long_dashes(cmd: &Command, args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest = args.into_iter();
    out.extend(rest.next());
    let mut cur = cmd;
    while let Some(a) = rest.next() {
        let s = a.to_string_lossy().into_owned();
        if s == "--" || !s.starts_with('-') || s == "-" {
            match cur.find_subcommand(OsStr::new(&s)) {
                Some(sub) if s != "--" => {
                    cur = sub;
                    out.push(a);
                    continue;
                }
                // The first positional argument: the rest is the
                // command's, as it is.
                _ => {
                    out.push(a);
                    out.extend(rest);
                    return out;
                }
            }
        }
        let (dashes, body) = match s.strip_prefix("--") {
            Some(b) => (2, b),
            None => (1, &s[1..]),
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, _)) => (n, true),
            None => (body, false),
        };
        let arg = match dashes {
            2 => long(cmd, cur, name),
            _ if name.chars().count() == 1 => short(cmd, cur, name),
            _ => long(cmd, cur, name),
        };
        match arg {
            Some(_) if dashes == 1 && name.chars().count() > 1 => out.push(format!("-{s}").into()),
            _ => out.push(a),
        }
        // A flag's value as the next argument: never a flag or positional.
        if let Some(arg) = arg
            && !inline
            && arg.get_action().takes_values()
            && let Some(v) = rest.next()
        {
            out.push(v);
        }
    }
    out
}

/// The flag `--name` of `cur`, or a global one of the top command's.
fn long<'a>(top: &'a Command, cur: &'a Command, name: &str) -> Option<&'a Arg> {
    let find = |c: &'a Command| c.get_arguments().find(|a| a.get_long() == Some(name));
    find(cur).or_else(|| find(top).filter(|a| a.is_global_set()))
}

/// The flag `-c` of `cur`, or a global one of the top command's.
fn short<'a>(top: &'a Command, cur: &'a Command, name: &str) -> Option<&'a Arg> {
    let c = name.chars().next()?;
    let find = |cmd: &'a Command| cmd.get_arguments().find(|a| a.get_short() == Some(c));
    find(cur).or_else(|| find(top).filter(|a| a.is_global_set()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(args: &[&str]) -> Vec<String> {
        let mut cmd = <super::super::Cli as clap::CommandFactory>::command();
        cmd.build();
        let args = args.iter().map(OsString::from).collect();
        long_dashes(&cmd, args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn go_runc_restore_flags_get_two_dashes() {
        // containerd 1.6's shim, through go-runc.
        let shim = [
            "hull",
            "--root",
            "/run/r",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "--systemd-cgroup",
            "restore",
            "--image-path",
            "/i",
            "--work-path",
            "/w",
            "--detach",
            "--pid-file",
            "/b/init.pid",
            "-no-subreaper",
            "--bundle",
            "/b",
            "c1",
        ];
        let mut want = shim.to_vec();
        want[16] = "--no-subreaper";
        assert_eq!(rewrite(&shim), want);
        assert_eq!(
            rewrite(&[
                "hull",
                "-root",
                "/r",
                "restore",
                "-image-path=/i",
                "-d",
                "c1"
            ]),
            [
                "hull",
                "--root",
                "/r",
                "restore",
                "--image-path=/i",
                "-d",
                "c1"
            ]
        );
    }

    #[test]
    fn values_and_process_arguments_stay() {
        // A flag's value, and everything from the first positional on.
        for args in [
            &[
                "hull",
                "exec",
                "--cwd",
                "-no-subreaper",
                "c1",
                "ls",
                "-detach",
            ][..],
            &["hull", "restore", "-b", "-detach", "c1"],
            &["hull", "exec", "c1", "sh", "-c", "echo -root"],
            &["hull", "restore", "--", "-no-subreaper"],
            &["hull", "-nosuch", "restore", "c1"],
        ] {
            assert_eq!(rewrite(args), args, "{args:?}");
        }
    }
}
