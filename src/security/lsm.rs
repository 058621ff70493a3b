//! AppArmor and SELinux labels. When the LSM is not enabled on the host a
//! label in the config is an error, as with runc (which fails writing
//! /proc/self/attr/exec, or refuses an SELinux label up front).

use crate::bail;
use crate::error::{Context, Result};
use oci_spec::runtime::Spec;
use std::path::Path;

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
}

pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Refuse labels this host cannot apply, before anything is created.
pub fn validate(spec: &Spec) -> Result<()> {
    if let Some(process) = spec.process() {
        validate_process(process, "config.json: process")?;
    }
    let mount_label = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref());
    if mount_label.is_some_and(|l| !l.is_empty()) && !selinux_enabled() {
        bail!("config.json: linux.mountLabel: SELinux is not enabled on this host");
    }
    Ok(())
}

/// The process's labels (`what` names where they come from).
pub fn validate_process(process: &oci_spec::runtime::Process, what: &str) -> Result<()> {
    if process
        .apparmor_profile()
        .as_deref()
        .is_some_and(|p| !p.is_empty())
        && !apparmor_enabled()
    {
        bail!("{what}.apparmorProfile: AppArmor is not enabled on this host");
    }
    if process
        .selinux_label()
        .as_deref()
        .is_some_and(|l| !l.is_empty())
        && !selinux_enabled()
    {
        bail!("{what}.selinuxLabel: SELinux is not enabled on this host");
    }
    Ok(())
}

/// Labels that take effect at the next execve.
pub fn apply_exec_labels(process: &oci_spec::runtime::Process) -> Result<()> {
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        let attr = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        std::fs::write(attr, format!("exec {profile}"))
            .ctx(|| format!("process.apparmorProfile: apply {profile:?}"))?;
    }
    if let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        std::fs::write("/proc/thread-self/attr/exec", label)
            .ctx(|| format!("process.selinuxLabel: apply {label:?}"))?;
    }
    Ok(())
}
