//! `exec --cgroup`: the sub-cgroups of the container's that a process
//! joins, in runc's form: one `PATH` for every hierarchy, or, repeatable,
//! `CONTROLLER[,CONTROLLER]:PATH` for those controllers' v1 hierarchies
//! (the others keep the container's own cgroup).

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Parsed `--cgroup` arguments; empty: the container's own cgroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubCgroups {
    /// The plain `PATH` form: for every hierarchy.
    all: Option<PathBuf>,
    /// (controller, path) from the `CONTROLLER:PATH` form.
    by_controller: Vec<(String, PathBuf)>,
}

impl SubCgroups {
    pub fn parse(args: &[String]) -> Result<SubCgroups> {
        let mut subs = SubCgroups::default();
        for arg in args {
            let field = format!("--cgroup {arg}");
            match arg.split_once(':') {
                None if args.len() > 1 => {
                    return Err(Error::at(
                        &field,
                        "with more than one --cgroup, each needs a CONTROLLER: prefix",
                    ));
                }
                None => subs.all = Some(below(arg)?),
                Some((ctrls, path)) if ctrls.is_empty() || path.contains(':') => {
                    return Err(Error::at(&field, "want [CONTROLLER[,CONTROLLER]:]PATH"));
                }
                Some((ctrls, path)) => {
                    let path = below(path)?;
                    for c in ctrls.split(',') {
                        if c.is_empty() || subs.by_controller.iter().any(|(n, _)| n == c) {
                            return Err(Error::at(
                                &field,
                                format!("controller {c:?} twice or empty"),
                            ));
                        }
                        subs.by_controller.push((c.to_string(), path.clone()));
                    }
                }
            }
        }
        Ok(subs)
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_none() && self.by_controller.is_empty()
    }

    /// The controllers named in the `CONTROLLER:PATH` form.
    pub fn controllers(&self) -> impl Iterator<Item = &str> {
        self.by_controller.iter().map(|(c, _)| c.as_str())
    }

    /// The path below the container's cgroup for the hierarchy holding
    /// `controllers` (a v1 one; none for the unified tree): its
    /// controllers' own, else the one for all, else the container's.
    pub fn for_hierarchy(&self, controllers: &[String]) -> Result<&Path> {
        let mut named = self
            .by_controller
            .iter()
            .filter(|(c, _)| controllers.contains(c));
        let Some((first, path)) = named.next() else {
            return Ok(self.all.as_deref().unwrap_or(Path::new("")));
        };
        // Controllers mounted together (cpu,cpuacct) have one directory.
        if let Some((other, _)) = named.find(|(_, p)| p != path) {
            return Err(Error::at(
                "--cgroup",
                format!("{first} and {other} share a hierarchy here: give them one path"),
            ));
        }
        Ok(path)
    }
}

/// `path` below the container's cgroup: leading slashes dropped (`/` is
/// the container's own), no `..`.
fn below(path: &str) -> Result<PathBuf> {
    let p = Path::new(path.trim_start_matches('/'));
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(Error::at(
            "--cgroup",
            format!("{path} is not a sub cgroup path (it must name one below the container's)"),
        ));
    }
    Ok(p.components().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SubCgroups> {
        SubCgroups::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn hier(names: &str) -> Vec<String> {
        names.split(',').map(String::from).collect()
    }

    #[test]
    fn one_path_or_one_per_controller() {
        let all = parse(&["/a/b"]).unwrap();
        assert_eq!(
            all.for_hierarchy(&hier("memory")).unwrap(),
            Path::new("a/b")
        );
        assert_eq!(
            parse(&["/"]).unwrap().for_hierarchy(&[]).unwrap(),
            Path::new("")
        );
        assert!(parse(&[]).unwrap().is_empty());

        let per = parse(&["memory:m", "cpu,cpuacct:/c"]).unwrap();
        assert_eq!(
            per.controllers().collect::<Vec<_>>(),
            ["memory", "cpu", "cpuacct"]
        );
        assert_eq!(per.for_hierarchy(&hier("memory")).unwrap(), Path::new("m"));
        assert_eq!(
            per.for_hierarchy(&hier("cpu,cpuacct")).unwrap(),
            Path::new("c")
        );
        assert_eq!(per.for_hierarchy(&hier("pids")).unwrap(), Path::new(""));
        let split = parse(&["cpu:x", "cpuacct:y"]).unwrap();
        let e = split.for_hierarchy(&hier("cpu,cpuacct")).unwrap_err();
        assert_eq!(
            e.message(),
            "--cgroup: cpu and cpuacct share a hierarchy here: give them one path"
        );
    }

    #[test]
    fn refuses_what_runc_refuses() {
        let msg = |args: &[&str]| parse(args).unwrap_err().message().to_string();
        assert_eq!(
            msg(&[".."]),
            "--cgroup: .. is not a sub cgroup path (it must name one below the container's)"
        );
        assert!(msg(&["memory:a/../.."]).contains(" a/../.. is not a sub cgroup path"));
        assert!(msg(&["a", "b"]).starts_with("--cgroup a: with more than one --cgroup"));
        assert!(msg(&["a:b:c"]).contains("want [CONTROLLER"));
        assert!(msg(&[":b"]).contains("want [CONTROLLER"));
        assert!(msg(&["memory:a", "memory:b"]).contains("twice"));
    }
}
